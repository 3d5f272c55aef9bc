import { badValue, deriveSeed, DistilleryError, Rng, type DataSource } from '@distillery/core';
import { uploadTensor, type GpuTensor } from '@distillery/webgpu';
import type { TransferBatch } from './batch.js';

/** Features and (optional) labels in host memory, row-major. */
export interface ClassificationData {
  features: Float32Array;
  /** Absent for an unlabelled transfer set. */
  labels?: Int32Array;
  rows: number;
  featureSize: number;
  classes: number;
}

export function checkClassificationData(name: string, data: ClassificationData): void {
  if (data.features.length !== data.rows * data.featureSize) {
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `${name}.features has ${data.features.length} values, expected rows × featureSize = ${data.rows} × ${data.featureSize}`,
      { field: `${name}.features` },
    );
  }
  if (data.labels) {
    if (data.labels.length !== data.rows)
      throw new DistilleryError('E_SHAPE_MISMATCH', `${name}.labels has ${data.labels.length} entries for ${data.rows} rows`, {
        field: `${name}.labels`,
      });
    const bad = data.labels.findIndex((y) => !(y >= 0 && y < data.classes));
    if (bad >= 0) throw badValue(`${name}.labels[${bad}]`, data.labels[bad], `a class in [0, ${data.classes})`);
  }
}

/** Uploads rows `ids` of `data` as a batch. */
export function uploadBatch(device: GPUDevice, data: ClassificationData, ids: Uint32Array, withLabels = true): TransferBatch {
  const f = data.featureSize;
  const x = new Float32Array(ids.length * f);
  ids.forEach((id, i) => x.set(data.features.subarray(id * f, (id + 1) * f), i * f));
  const inputs = uploadTensor(device, { shape: [ids.length, f], dtype: 'f32', data: x }, 'batch-inputs');
  let labels: GpuTensor | undefined;
  if (withLabels && data.labels) {
    labels = uploadTensor(
      device,
      { shape: [ids.length], dtype: 'i32', data: Int32Array.from(ids, (id) => data.labels![id]!) },
      'batch-labels',
    );
  }
  return { inputs, labels, rows: ids.length, ids };
}

export function releaseBatch(batch: TransferBatch): void {
  batch.inputs.release();
  batch.labels?.release();
}

/**
 * Shuffled mini-batches of an in-memory data set. The order of epoch e depends only on
 * (seed, e), so a resumed run sees the same batches. The previous batch's GPU buffers are
 * returned to the pool when the next batch is made (the loop is done with them by then).
 */
export class ShuffledBatches implements DataSource<TransferBatch> {
  readonly batchesPerEpoch: number;
  #previous: TransferBatch | undefined;

  constructor(
    readonly device: GPUDevice,
    readonly data: ClassificationData,
    readonly batchSize: number,
    readonly seed: number,
    /** Hide the labels (an unlabelled transfer set). */
    readonly withLabels = true,
  ) {
    checkClassificationData('data', data);
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw badValue('batchSize', batchSize, 'an integer >= 1');
    // Drop the ragged last batch: every step then has the same shape and the same normaliser.
    this.batchesPerEpoch = Math.max(1, Math.floor(data.rows / batchSize));
  }

  async batch(epoch: number, index: number): Promise<TransferBatch> {
    if (this.#previous) releaseBatch(this.#previous);
    const order = new Rng(deriveSeed(this.seed, `epoch-${epoch}`)).permutation(this.data.rows);
    const ids = order.slice(index * this.batchSize, Math.min(this.data.rows, (index + 1) * this.batchSize));
    this.#previous = uploadBatch(this.device, this.data, ids, this.withLabels);
    return this.#previous;
  }
}
