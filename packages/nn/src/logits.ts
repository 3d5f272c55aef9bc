/**
 * Host-side arithmetic on logits read back from the GPU (`[rows, vocab]`, row-major, a row starting
 * at `offset`): the evaluation and decoding code of every package computes its metrics with these,
 * in float64, so they agree to the last bit.
 */

/** Index of the row's largest logit (the first one on ties). */
export function argmaxRow(logits: ArrayLike<number>, offset: number, vocab: number): number {
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[offset + v]! > logits[offset + best]!) best = v;
  return best;
}

/** ln Σ exp(z) over the row, shifted by its maximum so large logits do not overflow. */
export function logSumExpRow(logits: ArrayLike<number>, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  return max + Math.log(sum);
}

/** −ln softmax(z)_label: the row's cross-entropy against one class. */
export function crossEntropyRow(logits: ArrayLike<number>, offset: number, vocab: number, label: number): number {
  return logSumExpRow(logits, offset, vocab) - logits[offset + label]!;
}
