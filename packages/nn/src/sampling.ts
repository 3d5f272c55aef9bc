import { DistilleryError, Rng } from '@distillery/core';
import { readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { argmaxRow } from './logits.js';

/** A next-token model over windows of `context` token ids (LlamaLm, TransformerLm). */
export interface WindowLm {
  readonly device: GPUDevice;
  readonly vocabSize: number;
  readonly settings: { context: number };
  forward(batch: { tokens: GpuTensor; sequences: number }, options: { training: boolean }): Promise<GpuTensor>;
}

export interface SamplingOptions {
  /** Tokens to add (default 32). */
  maxTokens?: number;
  /** 0 (default): greedy (argmax, the lowest id on ties); else sampled from softmax(logits / temperature). */
  temperature?: number;
  seed?: number;
  /** Stop after emitting this token id (it is kept in the output). */
  stopToken?: number;
}

/** The next token from one row of logits: argmax at temperature 0, else a draw from the tempered softmax. */
export function pickToken(row: ArrayLike<number>, temperature: number, rng: Rng): number {
  if (temperature <= 0) return argmaxRow(row, 0, row.length);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  const w = Array.from({ length: row.length }, (_, i) => Math.exp((row[i]! - max) / temperature));
  let u = rng.next() * w.reduce((a, b) => a + b, 0);
  const next = w.findIndex((x) => (u -= x) < 0);
  return next < 0 ? row.length - 1 : next;
}

/**
 * Continues `prompt` (token ids) by up to `maxTokens` ids. The model sees the last `context` ids; a
 * shorter window is padded on the right, which the causal mask hides from the rows that are read.
 */
export async function sampleTokens(
  model: WindowLm,
  prompt: readonly number[],
  { maxTokens = 32, temperature = 0, seed = 0, stopToken }: SamplingOptions = {},
): Promise<number[]> {
  if (prompt.length === 0) throw new DistilleryError('E_BAD_VALUE', 'sampling needs a non-empty prompt', { field: 'prompt' });
  const T = model.settings.context;
  const V = model.vocabSize;
  const rng = new Rng(seed);
  const ids = [...prompt];
  const out: number[] = [];
  for (let n = 0; n < maxTokens; n++) {
    const window = ids.slice(-T);
    const used = window.length;
    while (window.length < T) window.push(0);
    const tokens = uploadTensor(model.device, { shape: [T], dtype: 'i32', data: Int32Array.from(window) }, 'prompt');
    try {
      const logits = await readFloat32(await model.forward({ tokens, sequences: 1 }, { training: false }));
      const next = pickToken(logits.subarray((used - 1) * V, used * V), temperature, rng);
      ids.push(next);
      out.push(next);
      if (next === stopToken) break;
    } finally {
      tokens.release();
    }
  }
  return out;
}
