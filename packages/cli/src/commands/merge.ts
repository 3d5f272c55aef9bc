import { resolve } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { mergeFromConfig, readConfigFile } from '@distillery/black-box/node';
import { mergeCacheParts } from '@distillery/white-box/node';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';

export const mergeCommand: CliCommand = {
  name: 'merge',
  summary: 'Merge sharded outputs: collect records (each id exactly once) or teacher cache parts (checksums verified)',
  usage: `Usage: distillery merge <inputs…> --out DIR [--config collect.json] [--shards n] [--name records.jsonl] [--json]
       distillery merge --cache <parts…> --out DIR [--json]

Collection outputs (distillery collect --shard i/n on many machines, or batch imports): inputs are
JSONL files or folders holding --name (default records.jsonl). Writes DIR/<name> with each id once
(the first input wins) and DIR/merge-report.json: duplicated ids, ids with different requests in two
inputs, and with --config (the unsharded collect config) the missing ids, per shard with --shards
(default: the config's shard count). Exit code 1 unless every expected id is present exactly once.

Teacher caches (--cache): inputs are cache part folders (part.json, e.g. written by
examples/scale-out/write_cache_shard.py) or complete caches (index.json). Every shard's size and
SHA-256 is checked, shards held twice must be identical, and together they must cover every row;
DIR gets the shards and index.json (with SHA-256 and CRC32). With shards missing nothing is written
and the missing row ranges are listed (exit code 1). See docs/white-box.md for the format.`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('merge', argv, {
      out: { type: 'string' },
      config: { type: 'string' },
      shards: { type: 'string' },
      name: { type: 'string' },
      cache: { type: 'boolean' },
      json: { type: 'boolean' },
      overwrite: { type: 'boolean' },
    });
    if (typeof values.out !== 'string')
      throw new DistilleryError('E_BAD_CONFIG', 'distillery merge: --out DIR is required', { field: '--out' });
    if (positionals.length === 0)
      throw new DistilleryError('E_BAD_CONFIG', 'distillery merge: give the inputs to merge', { field: 'argv' });
    const out = resolve(io.cwd, values.out);
    const inputs = positionals.map((p) => resolve(io.cwd, p));
    if (values.cache) {
      const report = await mergeCacheParts({ parts: inputs, out });
      if (values.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else if (report.complete)
        io.stdout(
          `merged ${report.shards} shards (${report.rows} rows) into ${out}${report.duplicated.length ? `; ${report.duplicated.length} shards were in more than one part (identical)` : ''}\n`,
        );
      else
        io.stdout(
          `incomplete: ${report.missing.length} of ${report.shards} shards missing (rows ${report.missing.map((m) => `${m.firstRow}-${m.endRow - 1}`).join(', ')}); nothing written\n`,
        );
      return report.complete ? 0 : 1;
    }
    let shards: number | undefined;
    if (values.shards !== undefined) {
      shards = Number(values.shards);
      if (!(Number.isInteger(shards) && shards >= 1))
        throw new DistilleryError(
          'E_BAD_CONFIG',
          `distillery merge: --shards must be an integer >= 1, got ${JSON.stringify(values.shards)}`,
          { field: '--shards', value: values.shards },
        );
    }
    const configPath = typeof values.config === 'string' ? resolve(io.cwd, values.config) : undefined;
    const config = configPath ? await readConfigFile(configPath) : undefined;
    const report = await mergeFromConfig(
      {
        inputs,
        out,
        config,
        shards,
        name: typeof values.name === 'string' ? values.name : undefined,
        overwrite: Boolean(values.overwrite),
      },
      { baseDir: configPath ? resolve(configPath, '..') : io.cwd },
    );
    if (values.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const lines = [`${report.complete ? 'complete' : 'incomplete'}: ${report.records} records in ${report.output}`];
      for (const input of report.inputs)
        lines.push(`  ${input.path}: ${input.records} records${input.duplicates ? `, ${input.duplicates} duplicates` : ''}`);
      if (report.duplicated.count)
        lines.push(
          `${report.duplicated.count} ids appear more than once (kept once): ${report.duplicated.ids.join(', ')}${report.duplicated.count > report.duplicated.ids.length ? ', …' : ''}`,
        );
      if (report.conflicting.count)
        lines.push(
          `${report.conflicting.count} ids were collected from different requests (the first is kept): ${report.conflicting.ids.join(', ')}`,
        );
      if (report.missing?.count) {
        lines.push(
          `${report.missing.count} ids missing: ${report.missing.ids.join(', ')}${report.missing.count > report.missing.ids.length ? ', …' : ''}`,
        );
        if (report.missing.shardsMissingEntirely?.length)
          lines.push(
            `shards with no output at all: ${report.missing.shardsMissingEntirely.map((s) => `${s}/${report.missing!.shards}`).join(', ')}`,
          );
        if (report.missing.byShard)
          lines.push(
            `missing per shard: ${Object.entries(report.missing.byShard)
              .map(([s, n]) => `${s}: ${n}`)
              .join(', ')}`,
          );
      }
      if (report.unexpected?.count) lines.push(`${report.unexpected.count} ids are not in the config's input (kept)`);
      io.stdout(`${lines.join('\n')}\nreport: ${resolve(out, 'merge-report.json')}\n`);
    }
    return report.complete ? 0 : 1;
  },
};
