import { DistilleryError, type TeacherTargets, type WhiteBoxTeacher } from '@distillery/core';
import { uploadTensor, type GpuTensor } from '@distillery/webgpu';
import type { TransferBatch } from '../batch.js';
import type { TeacherCacheReader } from '../cache/files.js';

/**
 * A teacher that answers from an offline cache: the student trains without the teacher model.
 * Batches must carry `ids` (their rows in the transfer set). Each call's tensors go back to the
 * buffer pool at the next call (as `ShuffledBatches` does with batches): the loop is done with a
 * step's targets by then, and a long run would otherwise hold every step's upload.
 */
export class CachedTeacher implements WhiteBoxTeacher<TransferBatch, GpuTensor> {
  readonly kind = 'white-box' as const;
  readonly name: string;
  readonly vocabSize: number;
  #previous: GpuTensor[] = [];

  constructor(
    readonly cache: TeacherCacheReader,
    readonly device: GPUDevice,
  ) {
    this.vocabSize = cache.index.vocab;
    this.name = `cache:${cache.index.teacher}`;
  }

  async targets(batch: TransferBatch): Promise<TeacherTargets<GpuTensor>> {
    if (batch.ids.length !== batch.rows) {
      throw new DistilleryError('E_SHAPE_MISMATCH', `batch.ids has ${batch.ids.length} entries for ${batch.rows} rows`, {
        field: 'batch.ids',
        value: batch.ids.length,
      });
    }
    const rows = await this.cache.readRows(batch.ids);
    for (const tensor of this.#previous) tensor.release();
    if (rows.kind === 'dense') {
      const logits = uploadTensor(
        this.device,
        { shape: [rows.rows, rows.vocab], dtype: 'f32', data: rows.logits },
        'cached-teacher-logits',
      );
      this.#previous = [logits];
      return { kind: 'dense', logits };
    }
    const targets = {
      kind: 'topk' as const,
      k: rows.k,
      indices: uploadTensor(this.device, { shape: [rows.rows, rows.k], dtype: 'i32', data: rows.indices }, 'cached-teacher-indices'),
      logprobs: uploadTensor(this.device, { shape: [rows.rows, rows.k], dtype: 'f32', data: rows.logprobs }, 'cached-teacher-logprobs'),
      tailMass: uploadTensor(this.device, { shape: [rows.rows], dtype: 'f32', data: rows.tailMass }, 'cached-teacher-tail'),
    };
    this.#previous = [targets.indices, targets.logprobs, targets.tailMass];
    return targets;
  }
}
