import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import type { CollectedRecord } from './collect.js';
import { readJsonl } from './jsonl.js';
import { shardOf } from './shard.js';

export interface MergeCollectionsOptions {
  /** Shard outputs: JSONL files, or folders holding `name`. */
  inputs: readonly string[];
  /** Folder for the merged `name` and `merge-report.json`. */
  out: string;
  /** File name inside input folders and the out folder (default `records.jsonl`). */
  name?: string;
  /** Every id that should be present (from the unsharded config): enables the missing check. */
  expectedIds?: readonly string[];
  /** The number of shards the inputs were made with: missing ids are reported per shard. */
  shards?: number;
  /** Replace an existing merged file (default false: E_BAD_CONFIG). */
  overwrite?: boolean;
  /** Ids listed in the report (default 20 per list; counts are always exact). */
  listLimit?: number;
}

export interface MergeInputReport {
  path: string;
  records: number;
  /** Records whose id was already taken from an earlier input (or earlier in the same one). */
  duplicates: number;
  /** A torn last line (a crash mid-write) that was ignored. */
  tornBytes: number;
}

export interface MergeReport {
  output: string;
  /** Records in the merged file: each id once. */
  records: number;
  inputs: MergeInputReport[];
  duplicated: { count: number; ids: string[] };
  /** Only with `expectedIds`. */
  missing?: { count: number; ids: string[]; shards?: number; byShard?: Record<string, number>; shardsMissingEntirely?: number[] };
  /** Ids in the inputs that `expectedIds` does not list (kept; reported). */
  unexpected?: { count: number; ids: string[] };
  /** Same id with different request keys in two inputs (the first is kept). */
  conflicting: { count: number; ids: string[] };
  /** Every expected id exactly once (without expectedIds: no duplicates). */
  complete: boolean;
}

async function resolveInput(path: string, name: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new DistilleryError('E_NOT_FOUND', `merge input ${path} does not exist`, { field: 'inputs', value: path });
  }
  return info.isDirectory() ? join(path, name) : path;
}

/**
 * Combines the outputs of sharded (or simply separate) collection runs into one records file: each
 * id once (the first input that has it wins), and a report of duplicated ids, ids whose request
 * differs between inputs, and — given the expected ids — the missing ones, per shard.
 */
export async function mergeCollections(options: MergeCollectionsOptions): Promise<MergeReport> {
  const name = options.name ?? 'records.jsonl';
  const limit = options.listLimit ?? 20;
  if (options.inputs.length === 0) throw new DistilleryError('E_BAD_CONFIG', 'merge needs at least one input', { field: 'inputs' });
  const output = join(options.out, name);
  if (!options.overwrite) {
    const existing = await stat(output).catch(() => undefined);
    if (existing)
      throw new DistilleryError('E_BAD_CONFIG', `merged output ${output} exists; choose another --out or pass overwrite`, {
        field: 'out',
        value: output,
      });
  }
  const kept = new Map<string, CollectedRecord>();
  const duplicated = new Set<string>();
  const conflicting = new Set<string>();
  const inputs: MergeInputReport[] = [];
  for (const input of options.inputs) {
    const path = await resolveInput(input, name);
    const { records, tornBytes } = await readJsonl<CollectedRecord>(path);
    const report: MergeInputReport = { path, records: 0, duplicates: 0, tornBytes };
    for (const [i, record] of records.entries()) {
      if (!record || typeof record.id !== 'string' || typeof record.completion?.text !== 'string') {
        throw new DistilleryError('E_CORRUPT_FILE', `${path}: line ${i + 1} is not a collected record ({id, key, completion})`, {
          field: 'inputs',
          value: path,
          line: i + 1,
        });
      }
      report.records++;
      const first = kept.get(record.id);
      if (first) {
        report.duplicates++;
        duplicated.add(record.id);
        if (first.key !== record.key) conflicting.add(record.id);
        continue;
      }
      kept.set(record.id, record);
    }
    inputs.push(report);
  }
  const list = (ids: Iterable<string>) => [...ids].slice(0, limit);
  const report: MergeReport = {
    output,
    records: kept.size,
    inputs,
    duplicated: { count: duplicated.size, ids: list(duplicated) },
    conflicting: { count: conflicting.size, ids: list(conflicting) },
    complete: duplicated.size === 0,
  };
  let ordered = [...kept.values()];
  if (options.expectedIds) {
    const expected = new Set(options.expectedIds);
    const missing = options.expectedIds.filter((id) => !kept.has(id));
    const unexpected = [...kept.keys()].filter((id) => !expected.has(id));
    report.missing = { count: missing.length, ids: list(missing) };
    if (options.shards) {
      const byShard: Record<string, number> = {};
      const totalByShard = new Map<number, number>();
      for (const id of options.expectedIds)
        totalByShard.set(shardOf(id, options.shards), (totalByShard.get(shardOf(id, options.shards)) ?? 0) + 1);
      for (const id of missing) {
        const s = shardOf(id, options.shards);
        byShard[`${s}/${options.shards}`] = (byShard[`${s}/${options.shards}`] ?? 0) + 1;
      }
      report.missing.shards = options.shards;
      report.missing.byShard = byShard;
      report.missing.shardsMissingEntirely = [...totalByShard]
        .filter(([s, total]) => byShard[`${s}/${options.shards}`] === total)
        .map(([s]) => s)
        .sort((a, b) => a - b);
    }
    if (unexpected.length) report.unexpected = { count: unexpected.length, ids: list(unexpected) };
    report.complete = duplicated.size === 0 && missing.length === 0;
    // Merged in the expected (dataset) order, then anything unexpected: stable whatever the shard order.
    ordered = [...options.expectedIds.filter((id) => kept.has(id)).map((id) => kept.get(id)!), ...unexpected.map((id) => kept.get(id)!)];
  }
  await writeFileAtomic(output, ordered.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await writeFileAtomic(join(options.out, 'merge-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
