import { badValue, deriveSeed, DistilleryError, requireInteger, Rng, type DataSource } from '@distillery/core';
import type { LmBatch } from '@distillery/nn';
import { uploadTensor } from '@distillery/webgpu';

/** A tokenised transfer set: documents of token ids. Windows never cross a document boundary. */
export interface TokenCorpus {
  documents: readonly ArrayLike<number>[];
  /** Vocabulary size: every id must be in [0, vocab). */
  vocab: number;
}

export interface TokenWindowsOptions {
  /** Tokens per sequence (the model's context). */
  context: number;
  /** Sequences per batch. */
  sequences: number;
  /** Seeds the per-epoch shuffle of the windows. */
  seed: number;
  /** Label of padded positions (skipped by the loss and the metrics). Default −100, as the losses'. */
  ignoreIndex?: number;
  /** Token id fed at padded positions (the causal mask hides them from real positions). Default 0. */
  padId?: number;
}

/** An `LmBatch` that knows which windows of its corpus it holds (an offline teacher cache reads its rows by window id). */
export interface WindowBatch extends LmBatch {
  /** Window ids, one per sequence: the cache row of position t of window w is w · context + t. */
  readonly windows: readonly number[];
}

interface Window {
  document: number;
  start: number;
}

/**
 * Next-token windows over a corpus, as `LmBatch`es of `sequences × context` tokens: each document
 * is cut into consecutive windows of `context` tokens whose labels are the following tokens, so
 * every token but a document's first is predicted exactly once. A document's last window is
 * padded (`padId` tokens, `ignoreIndex` labels). Training order: a permutation of the windows
 * that depends only on (seed, epoch), so a resumed run sees the same batches; the ragged last batch
 * of an epoch is dropped so every step has the same shape.
 */
export class TokenWindows implements DataSource<WindowBatch> {
  readonly context: number;
  readonly sequences: number;
  readonly seed: number;
  readonly ignoreIndex: number;
  readonly padId: number;
  readonly batchesPerEpoch: number;
  /** Positions with a label (not padding): the tokens the loss and the metrics count. */
  readonly labelledTokens: number;
  readonly #windows: Window[] = [];
  #previous: WindowBatch | undefined;

  constructor(
    readonly device: GPUDevice,
    readonly corpus: TokenCorpus,
    options: TokenWindowsOptions,
  ) {
    this.context = requireInteger('context', options.context, 1);
    this.sequences = requireInteger('sequences', options.sequences, 1);
    this.seed = options.seed;
    this.ignoreIndex = requireInteger('ignoreIndex', options.ignoreIndex ?? -100, -(2 ** 31), 2 ** 31 - 1);
    this.padId = requireInteger('padId', options.padId ?? 0, 0, corpus.vocab - 1);
    let labelled = 0;
    corpus.documents.forEach((doc, d) => {
      for (let i = 0; i < doc.length; i++) {
        const id = doc[i]!;
        if (!(Number.isInteger(id) && id >= 0 && id < corpus.vocab))
          throw badValue(`corpus.documents[${d}][${i}]`, id, `a token id in [0, ${corpus.vocab})`);
      }
      for (let start = 0; start + 1 < doc.length; start += this.context) this.#windows.push({ document: d, start });
      labelled += Math.max(0, doc.length - 1);
    });
    this.labelledTokens = labelled;
    if (this.#windows.length < this.sequences) {
      throw new DistilleryError(
        'E_BAD_VALUE',
        `the corpus gives ${this.#windows.length} windows of ${this.context} tokens, fewer than sequences (${this.sequences}) per batch`,
        {
          field: 'sequences',
          value: this.sequences,
          expected: `at most ${this.#windows.length}`,
        },
      );
    }
    this.batchesPerEpoch = Math.floor(this.#windows.length / this.sequences);
  }

  /** Number of windows (sequences) in the corpus. */
  get windows(): number {
    return this.#windows.length;
  }

  /** Training batch `index` of `epoch`; the previous batch's buffers go back to the pool. */
  async batch(epoch: number, index: number): Promise<WindowBatch> {
    if (this.#previous) releaseLmBatch(this.#previous);
    const order = new Rng(deriveSeed(this.seed, `epoch-${epoch}`)).permutation(this.#windows.length);
    this.#previous = this.windowsBatch(Array.from(order.subarray(index * this.sequences, (index + 1) * this.sequences)));
    return this.#previous;
  }

  /** Windows `[first, first + count)` in corpus order (evaluation); the caller releases the batch. */
  orderedBatch(first: number, count: number): WindowBatch {
    return this.windowsBatch(Array.from({ length: Math.min(count, this.#windows.length - first) }, (_, i) => first + i));
  }

  /** Host copies of a batch's tokens and labels (for tests and metrics). */
  hostWindows(indices: readonly number[]): { tokens: Int32Array; labels: Int32Array } {
    const T = this.context;
    const tokens = new Int32Array(indices.length * T).fill(this.padId);
    const labels = new Int32Array(indices.length * T).fill(this.ignoreIndex);
    indices.forEach((w, s) => {
      const { document, start } = this.#windows[w]!;
      const doc = this.corpus.documents[document]!;
      for (let t = 0; t < T && start + t < doc.length; t++) tokens[s * T + t] = doc[start + t]!;
      for (let t = 0; t < T && start + t + 1 < doc.length; t++) labels[s * T + t] = doc[start + t + 1]!;
    });
    return { tokens, labels };
  }

  /** The batch of these windows, in this order; the caller releases it. */
  windowsBatch(indices: readonly number[]): WindowBatch {
    const { tokens, labels } = this.hostWindows(indices);
    return {
      tokens: uploadTensor(this.device, { shape: [tokens.length], dtype: 'i32', data: tokens }, 'lm-tokens'),
      labels: uploadTensor(this.device, { shape: [labels.length], dtype: 'i32', data: labels }, 'lm-labels'),
      sequences: indices.length,
      windows: [...indices],
    };
  }
}

export function releaseLmBatch(batch: LmBatch): void {
  batch.tokens.release();
  batch.labels?.release();
}
