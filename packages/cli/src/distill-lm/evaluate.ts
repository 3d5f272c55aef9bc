import { argmaxRow, crossEntropyRow } from '@distillery/nn';
import { readFloat32, readTensor, uploadTensor } from '@distillery/webgpu';
import { releaseLmBatch, type TokenWindows } from '@distillery/white-box';
import type { LmModel } from './kit.js';

export interface HeldOutMetrics {
  /** Mean next-token cross-entropy over the held-out positions, nats per token. */
  nats: number;
  /** Positions counted (every held-out token but each story's first). */
  tokens: number;
  /** Fraction of positions where the model's arg-max equals the teacher's (absent for the teacher itself). */
  agreement?: number;
}

/**
 * Teacher-forced metrics on the held-out windows in corpus order (evaluation mode), in float64 on
 * read-back logits; returns the arg-max of every counted position too, so the teacher's can be kept
 * and every student compared against it without running the teacher again.
 */
export async function evaluateHeldOut(
  model: LmModel,
  data: TokenWindows,
  sequences: number,
  teacherArgmax?: Int32Array,
): Promise<{ metrics: HeldOutMetrics; argmax: Int32Array }> {
  const V = model.vocabSize;
  let nll = 0;
  let tokens = 0;
  let agree = 0;
  const argmax: number[] = [];
  for (let first = 0; first < data.windows; first += sequences) {
    const batch = data.orderedBatch(first, sequences);
    try {
      const logits = await readFloat32(await model.forward(batch, { training: false }));
      const labels = (await readTensor(batch.labels!)).data as Int32Array;
      for (let r = 0; r < labels.length; r++) {
        const y = labels[r]!;
        if (y === data.ignoreIndex) continue;
        nll += crossEntropyRow(logits, r * V, V, y);
        const top = argmaxRow(logits, r * V, V);
        if (teacherArgmax && teacherArgmax[tokens] === top) agree++;
        argmax.push(top);
        tokens++;
      }
    } finally {
      releaseLmBatch(batch);
    }
  }
  const metrics: HeldOutMetrics = { nats: nll / tokens, tokens };
  if (teacherArgmax) metrics.agreement = agree / tokens;
  return { metrics, argmax: Int32Array.from(argmax) };
}

/** Greedy continuation of `prompt` (ids, BOS first) by up to `maxTokens` ids, stopping after `eos`. */
export async function greedySample(model: LmModel, prompt: readonly number[], maxTokens: number, eos: number): Promise<number[]> {
  const T = model.settings.context;
  const V = model.vocabSize;
  const ids = [...prompt];
  for (let n = 0; n < maxTokens; n++) {
    const window = ids.slice(-T);
    const used = window.length;
    while (window.length < T) window.push(0);
    const tokens = uploadTensor(model.device, { shape: [T], dtype: 'i32', data: Int32Array.from(window) }, 'sample-tokens');
    try {
      const logits = await readFloat32(await model.forward({ tokens, sequences: 1 }, { training: false }));
      const next = argmaxRow(logits, (used - 1) * V, V);
      ids.push(next);
      if (next === eos) break;
    } finally {
      tokens.release();
    }
  }
  return ids.slice(prompt.length);
}
