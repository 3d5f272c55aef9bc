/** Test support: a synthetic classification problem, its data source and a CPU cross-entropy loss. */
import { deriveSeed, Rng, type DataSource, type Loss, type LossOutput } from '@distillery/core';
import { readFloat32, readTensor, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import type { MlpBatch } from '../src/index.js';

export interface Dataset {
  features: number;
  classes: number;
  x: Float32Array;
  y: Int32Array;
  rows: number;
}

/**
 * Four classes that no linear model separates: the sign of x0·x1 (XOR) and whether (x2, x3) lies
 * outside a circle; the other features are noise.
 */
export function xorCircles(rows: number, features: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(rows * features);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < features; f++) x[r * features + f] = rng.normal();
    const o = r * features;
    y[r] = (x[o]! * x[o + 1]! > 0 ? 0 : 1) + (x[o + 2]! ** 2 + x[o + 3]! ** 2 > 1.4 ? 2 : 0);
  }
  return { features, classes: 4, x, y, rows };
}

/** Deterministic shuffled batches: the same (epoch, index) always gives the same rows. */
export class ArrayDataSource implements DataSource<MlpBatch> {
  readonly batchesPerEpoch: number;
  #live: GpuTensor[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly data: Dataset,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    this.batchesPerEpoch = Math.floor(data.rows / batchSize);
  }

  async batch(epoch: number, index: number): Promise<MlpBatch> {
    // The previous batch has been through backward by now; its buffers go back to the pool.
    for (const t of this.#live) t.release();
    const order = new Rng(deriveSeed(this.seed, `epoch-${epoch}`)).permutation(this.data.rows);
    const { features } = this.data;
    const x = new Float32Array(this.batchSize * features);
    const y = new Int32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) {
      const r = order[index * this.batchSize + i]!;
      x.set(this.data.x.subarray(r * features, (r + 1) * features), i * features);
      y[i] = this.data.y[r]!;
    }
    const inputs = uploadTensor(this.device, { shape: [this.batchSize, features], dtype: 'f32', data: x }, 'inputs');
    const labels = uploadTensor(this.device, { shape: [this.batchSize], dtype: 'i32', data: y }, 'labels');
    this.#live = [inputs, labels];
    return { inputs, labels, rows: this.batchSize };
  }
}

/** Mean cross-entropy and its gradient w.r.t. the logits, in float64 on the host. */
export function crossEntropy(
  logits: Float32Array,
  labels: ArrayLike<number>,
  classes: number,
): { loss: number; grad: Float32Array; correct: number } {
  const rows = labels.length;
  const grad = new Float32Array(rows * classes);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < classes; c++) if (row[c]! > max) [max, arg] = [row[c]!, c];
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c]! - max);
    const label = labels[r]!;
    loss += (Math.log(sum) + max - row[label]!) / rows;
    if (arg === label) correct++;
    for (let c = 0; c < classes; c++) grad[r * classes + c] = (Math.exp(row[c]! - max) / sum - (c === label ? 1 : 0)) / rows;
  }
  return { loss, grad, correct };
}

/** A supervised loss for the Distiller: reads the logits back, computes CE on the CPU, uploads dL/dlogits. */
export class CpuCrossEntropy implements Loss<GpuTensor> {
  readonly name = 'cpu-cross-entropy';
  readonly hyperDefaults = {};
  #grad: GpuTensor | undefined;
  lastAccuracy = Number.NaN;

  async compute({ studentLogits, labels }: Parameters<Loss<GpuTensor>['compute']>[0]): Promise<LossOutput<GpuTensor>> {
    const classes = studentLogits.shape[1]!;
    const y = (await readTensor(labels!)).data as Int32Array;
    const { loss, grad, correct } = crossEntropy(await readFloat32(studentLogits), y, classes);
    this.#grad?.release();
    this.#grad = uploadTensor(studentLogits.device, { shape: studentLogits.shape, dtype: 'f32', data: grad }, 'grad-logits');
    this.lastAccuracy = correct / y.length;
    return { total: async () => loss, terms: {}, gradLogits: this.#grad, rows: async () => y.length };
  }
}
