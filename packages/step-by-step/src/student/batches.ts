import { badValue, deriveSeed, DistilleryError, Rng, type DataSource } from '@distillery/core';
import type { LmBatch, Tokenizer } from '@distillery/nn';
import { uploadTensor, type GpuTensor } from '@distillery/webgpu';
import type { StepByStepRecord } from '../dataset.js';
import { encodeTaskRow, recordTasks, type EncodedRow } from './sequences.js';

export type TrainingMode = 'standard' | 'step-by-step';

/** A training batch: `labels` and `rowWeights` are per token position. */
export interface StepByStepBatch extends LmBatch {
  labels: GpuTensor;
  rowWeights: GpuTensor;
  /** The first `predictSequences` rows are the predict task, the rest the explain task. */
  predictSequences: number;
  /** Labelled positions of each task in this batch. */
  targetTokens: { predict: number; explain: number };
}

export interface StepByStepBatchesOptions {
  device: GPUDevice;
  tokenizer: Tokenizer;
  rows: readonly StepByStepRecord[];
  mode: TrainingMode;
  /** Records per step; step-by-step puts each record's predict and explain rows in the same batch. */
  batchSize: number;
  context: number;
  /** Weight λ of the rationale loss. */
  rationaleWeight: number;
  seed: number;
}

/** What truncation did to the training rows (reported, so a too-small context is visible). */
export interface TruncationStats {
  rows: number;
  inputTruncated: number;
  targetTruncated: number;
}

/**
 * The training set as batches of `[predict rows; explain rows]`, each example's rows encoded once.
 * Row weights implement L = L_label + λ·L_rationale with each task's loss a mean over that task's
 * target tokens in the batch (as a seq2seq trainer computes it per task), so the loss is called
 * with normaliser 1. Epoch e's order is a permutation seeded by (seed, e): a resumed run sees the
 * same batches as an uninterrupted one.
 */
export class StepByStepBatches implements DataSource<StepByStepBatch> {
  readonly batchesPerEpoch: number;
  readonly truncation: { predict: TruncationStats; explain: TruncationStats };
  readonly #o: StepByStepBatchesOptions;
  readonly #encoded: { predict: EncodedRow; explain?: EncodedRow }[];
  #live: GpuTensor[] = [];
  #current: StepByStepBatch | undefined;
  /** Token positions and label-carrying positions served by this instance (for throughput). */
  readonly served = { positions: 0, targetTokens: 0 };

  constructor(options: StepByStepBatchesOptions) {
    const { rows, batchSize, rationaleWeight } = options;
    if (rows.length === 0) throw badValue('train', rows.length, 'at least one training row');
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw badValue('batchSize', batchSize, 'an integer >= 1');
    if (!(Number.isFinite(rationaleWeight) && rationaleWeight >= 0))
      throw badValue('rationaleWeight', rationaleWeight, 'a finite number >= 0');
    this.#o = options;
    const stats = (): TruncationStats => ({ rows: 0, inputTruncated: 0, targetTruncated: 0 });
    this.truncation = { predict: stats(), explain: stats() };
    this.#encoded = rows.map((row) => {
      const out: { predict: EncodedRow; explain?: EncodedRow } = { predict: undefined! };
      for (const { task, target } of recordTasks(row, options.mode)) {
        const encoded = encodeTaskRow(options.tokenizer, task, row.input, target, options.context);
        const s = this.truncation[task];
        s.rows++;
        if (encoded.droppedInput) s.inputTruncated++;
        if (encoded.droppedTarget) s.targetTruncated++;
        out[task] = encoded;
      }
      return out;
    });
    this.batchesPerEpoch = Math.ceil(rows.length / batchSize);
  }

  #order(epoch: number): Uint32Array {
    return new Rng(deriveSeed(this.#o.seed, `step-by-step/epoch-${epoch}`)).permutation(this.#encoded.length);
  }

  async batch(epoch: number, index: number): Promise<StepByStepBatch> {
    // The loop has consumed the previous batch by the time it asks for the next one.
    this.release();
    const { batchSize, context, device, rationaleWeight } = this.#o;
    const order = this.#order(epoch);
    const picked = Array.from(order.subarray(index * batchSize, Math.min((index + 1) * batchSize, order.length)), (i) => this.#encoded[i]!);
    const rows: EncodedRow[] = [...picked.map((p) => p.predict), ...picked.flatMap((p) => (p.explain ? [p.explain] : []))];
    const predictRows = picked.length;
    const tokens = new Int32Array(rows.length * context);
    const labels = new Int32Array(rows.length * context);
    const weights = new Float32Array(rows.length * context);
    const targetTokens = { predict: 0, explain: 0 };
    rows.forEach((row, r) => (targetTokens[r < predictRows ? 'predict' : 'explain'] += row.targetTokens));
    rows.forEach((row, r) => {
      tokens.set(row.tokens, r * context);
      labels.set(row.labels, r * context);
      const isPredict = r < predictRows;
      const weight = isPredict ? 1 / targetTokens.predict : targetTokens.explain ? rationaleWeight / targetTokens.explain : 0;
      for (let p = 0; p < context; p++) if (row.labels[p] !== -100) weights[r * context + p] = weight;
    });
    const n = rows.length * context;
    const batch: StepByStepBatch = {
      sequences: rows.length,
      tokens: uploadTensor(device, { shape: [n], dtype: 'i32', data: tokens }, 'step-by-step tokens'),
      labels: uploadTensor(device, { shape: [n], dtype: 'i32', data: labels }, 'step-by-step labels'),
      rowWeights: uploadTensor(device, { shape: [n], dtype: 'f32', data: weights }, 'step-by-step token weights'),
      predictSequences: predictRows,
      targetTokens,
    };
    this.#live = [batch.tokens, batch.labels, batch.rowWeights];
    this.#current = batch;
    this.served.positions += n;
    this.served.targetTokens += targetTokens.predict + targetTokens.explain;
    return batch;
  }

  /** The batch handed out last (the one the loop is training on). */
  get current(): StepByStepBatch {
    if (!this.#current)
      throw new DistilleryError('E_BAD_VALUE', 'StepByStepBatches.current: no batch has been served yet', { field: 'current' });
    return this.#current;
  }

  release(): void {
    for (const t of this.#live) t.release();
    this.#live = [];
    this.#current = undefined;
  }
}
