import { requireInteger, type WhiteBoxTeacher } from '@distillery/core';
import { readTensor, type GpuTensor } from '@distillery/webgpu';
import type { CachedRows } from './format.js';
import { topKFromLogits } from './format.js';
import { TeacherCacheWriter } from './files.js';

export interface BuildCacheOptions<TBatch> {
  dir: string;
  teacher: WhiteBoxTeacher<TBatch, GpuTensor>;
  /** Rows in the transfer set. */
  rows: number;
  /** The batch of the given transfer-set rows (in order). */
  batchOf: (ids: Uint32Array) => Promise<TBatch>;
  kind: 'dense' | 'topk';
  k?: number;
  rowsPerShard?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs the teacher once over the transfer set and stores its targets. Resumable: a rerun after a
 * crash continues after the last complete shard.
 */
export async function buildTeacherCache<TBatch>(options: BuildCacheOptions<TBatch>): Promise<void> {
  const { teacher, rows, kind } = options;
  const batchSize = requireInteger('batchSize', options.batchSize ?? 256, 1);
  const writer = await TeacherCacheWriter.open({
    dir: options.dir,
    kind,
    rows,
    vocab: teacher.vocabSize,
    k: options.k,
    teacher: teacher.name,
    rowsPerShard: options.rowsPerShard,
  });
  const rowsPerShard = options.rowsPerShard ?? 4096;
  while (!writer.complete) {
    const first = writer.nextRow;
    const count = Math.min(rowsPerShard, rows - first);
    const logits = new Float32Array(count * teacher.vocabSize);
    const parts: CachedRows[] = [];
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const ids = Uint32Array.from({ length: n }, (_, i) => first + start + i);
      const targets = await teacher.targets(await options.batchOf(ids));
      if (targets.kind === 'dense') {
        logits.set((await readTensor(targets.logits)).data as Float32Array, start * teacher.vocabSize);
      } else {
        parts.push({
          kind: 'topk',
          rows: n,
          k: targets.k,
          indices: (await readTensor(targets.indices)).data as Int32Array,
          logprobs: (await readTensor(targets.logprobs)).data as Float32Array,
          tailMass: targets.tailMass ? ((await readTensor(targets.tailMass)).data as Float32Array) : new Float32Array(n),
        });
      }
      options.onProgress?.(first + start + n, rows);
    }
    if (parts.length) {
      const k = (parts[0] as Extract<CachedRows, { kind: 'topk' }>).k;
      const merged = {
        kind: 'topk' as const,
        rows: count,
        k,
        indices: new Int32Array(count * k),
        logprobs: new Float32Array(count * k),
        tailMass: new Float32Array(count),
      };
      let at = 0;
      for (const p of parts as Extract<CachedRows, { kind: 'topk' }>[]) {
        merged.indices.set(p.indices, at * k);
        merged.logprobs.set(p.logprobs, at * k);
        merged.tailMass.set(p.tailMass, at);
        at += p.rows;
      }
      await writer.appendShard(merged);
    } else if (kind === 'dense') {
      await writer.appendShard({ kind: 'dense', rows: count, vocab: teacher.vocabSize, logits });
    } else {
      await writer.appendShard(topKFromLogits(logits, count, teacher.vocabSize, options.k!));
    }
  }
}
