import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { runBatchJob, type BatchJobResult } from './batch-api.js';
import { exportBatch, importBatch, type ExportBatchSummary, type ImportBatchSummary } from './batch-files.js';
import { mergeCollections, type MergeReport } from './merge.js';
import { prepareCollectConfig } from './collect-config.js';
import type { RunHooks } from './run-config.js';
import { parseShard } from './shard.js';

async function disposeTeacher(teacher: unknown): Promise<void> {
  const dispose = (teacher as { dispose?: () => unknown }).dispose;
  if (typeof dispose === 'function') await dispose.call(teacher);
}

/** `distillery collect <config> --export-batch DIR`: the config's requests not yet in its output, as Batch API input files. */
export async function exportBatchFromConfig(
  value: unknown,
  options: { dir: string; maxRequests?: number; maxBytes?: number; prefix?: string },
  hooks: RunHooks = {},
): Promise<ExportBatchSummary> {
  const prepared = await prepareCollectConfig(value, hooks);
  try {
    return await exportBatch({
      teacher: prepared.teacher,
      items: prepared.items,
      dir: options.dir,
      output: prepared.output,
      maxRequests: options.maxRequests,
      maxBytes: options.maxBytes,
      prefix: options.prefix,
    });
  } finally {
    await disposeTeacher(prepared.teacher);
  }
}

/** `distillery collect <config> --import-batch OUT [--errors ERR]`: batch results into the config's output. */
export async function importBatchFromConfig(
  value: unknown,
  options: { inputs: readonly string[]; errorFiles?: readonly string[] },
  hooks: RunHooks = {},
): Promise<ImportBatchSummary> {
  const prepared = await prepareCollectConfig(value, hooks);
  try {
    return await importBatch({
      teacher: prepared.teacher,
      items: prepared.items,
      inputs: options.inputs,
      errorFiles: options.errorFiles,
      output: prepared.output,
    });
  } finally {
    await disposeTeacher(prepared.teacher);
  }
}

/**
 * `distillery merge <inputs…> --out DIR [--config C]`: merges shard outputs. With the config, every
 * id of its (unsharded) input must be present once; `shards` names the count for a per-shard report
 * (default: the config's shard count, if it has one).
 */
export async function mergeFromConfig(
  options: { inputs: readonly string[]; out: string; config?: unknown; shards?: number; name?: string; overwrite?: boolean },
  hooks: RunHooks = {},
): Promise<MergeReport> {
  let expectedIds: string[] | undefined;
  let shards = options.shards;
  if (options.config !== undefined) {
    const { shard, ...whole } = options.config as Record<string, unknown>;
    if (shards === undefined && typeof shard === 'string') shards = parseShard(shard, 'shard').count;
    const prepared = await prepareCollectConfig(whole, hooks);
    await disposeTeacher(prepared.teacher);
    expectedIds = prepared.items.map((item) => item.id);
  }
  return mergeCollections({
    inputs: options.inputs,
    out: options.out,
    expectedIds,
    shards,
    name: options.name,
    overwrite: options.overwrite,
  });
}

/**
 * `distillery collect <config> --submit-batch DIR`: every `*.jsonl` input file in DIR (as written by
 * `--export-batch`) goes through the teacher's Batch API (`runBatchJob`: resumable through its state
 * file), then the outputs and error files are imported into the config's output.
 */
export async function submitBatchFromConfig(
  value: unknown,
  options: { dir: string; pollMs?: number; signal?: AbortSignal; onStatus?: (file: string, status: string) => void },
  hooks: RunHooks = {},
): Promise<{ jobs: BatchJobResult[]; import: ImportBatchSummary }> {
  const prepared = await prepareCollectConfig(value, hooks);
  try {
    const inputs = (await readdir(options.dir)).filter((f) => f.endsWith('.jsonl') && !/\.(output|errors)\.jsonl$/.test(f)).sort();
    if (inputs.length === 0)
      throw new DistilleryError('E_NOT_FOUND', `no batch input files (*.jsonl) in ${options.dir}; write them with --export-batch`, {
        field: 'dir',
        value: options.dir,
      });
    const jobs: BatchJobResult[] = [];
    for (const file of inputs) {
      jobs.push(
        await runBatchJob({
          teacher: prepared.teacher,
          inputFile: join(options.dir, file),
          pollMs: options.pollMs,
          signal: options.signal,
          onStatus: (status) => options.onStatus?.(file, status),
        }),
      );
    }
    const summary = await importBatch({
      teacher: prepared.teacher,
      items: prepared.items,
      inputs: jobs.flatMap((j) => (j.outputPath ? [j.outputPath] : [])),
      errorFiles: jobs.flatMap((j) => (j.errorsPath ? [j.errorsPath] : [])),
      output: prepared.output,
    });
    return { jobs, import: summary };
  } finally {
    await disposeTeacher(prepared.teacher);
  }
}
