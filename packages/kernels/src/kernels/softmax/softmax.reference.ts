import { requirePositive, shapeMismatch } from '@distillery/core';

/**
 * Float64 log-softmax of one row at temperature T: (z − max)/T − ln Σ exp((z − max)/T).
 * A row that is entirely −inf returns null (the kernels then write 0 / −inf). −inf entries stay −inf.
 */
export function logSoftmaxRow(row: ArrayLike<number>, temperature = 1, start = 0, length = row.length - start): Float64Array | null {
  let max = -Infinity;
  for (let j = 0; j < length; j++) max = Math.max(max, row[start + j]!);
  if (max === -Infinity) return null;
  const out = new Float64Array(length);
  let sum = 0;
  for (let j = 0; j < length; j++) {
    out[j] = (row[start + j]! - max) / temperature;
    sum += Math.exp(out[j]!);
  }
  const logZ = Math.log(sum);
  for (let j = 0; j < length; j++) out[j] = out[j]! - logZ;
  return out;
}

export interface SoftmaxReferenceOptions {
  temperature?: number;
  log?: boolean;
}

/**
 * Float64 reference of `temperedSoftmax`: softmax(z/T) (or log_softmax) of each row of a
 * row-major `[rows, vocab]` array. Rows that are entirely −inf give 0 (softmax) or −inf (log).
 */
export function softmaxReference(
  logits: ArrayLike<number>,
  rows: number,
  vocab: number,
  { temperature = 1, log = false }: SoftmaxReferenceOptions = {},
): Float64Array {
  requirePositive('temperature', temperature);
  if (logits.length !== rows * vocab) throw shapeMismatch('logits', [logits.length], `${rows} × ${vocab} = ${rows * vocab} elements`);
  const out = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const lq = logSoftmaxRow(logits, temperature, r * vocab, vocab);
    for (let j = 0; j < vocab; j++) {
      const v = lq ? lq[j]! : -Infinity;
      out[r * vocab + j] = log ? v : lq ? Math.exp(v) : 0;
    }
  }
  return out;
}
