import { kdLossReference, type KdLossReferenceOutput } from '../kd-loss/kd-loss.reference.js';

export interface CrossEntropyReferenceInputs {
  rows: number;
  vocab: number;
  logits: ArrayLike<number>;
  labels: ArrayLike<number>;
  ignoreIndex?: number;
  normalizer?: number;
  weight?: number;
  /** `[rows]` weights ≥ 0 multiplying each row's loss and gradient (N unchanged). */
  rowWeights?: ArrayLike<number>;
}

/**
 * Float64 reference of `crossEntropy`: per row −ln softmax(z)_y (0 for ignored rows and rows that
 * are entirely −inf), times the row's weight w_r if given; total = weight · Σ ÷ N, gradient
 * weight · w_r · (softmax(z) − onehot(y)) / N.
 */
export function crossEntropyReference(inputs: CrossEntropyReferenceInputs): KdLossReferenceOutput {
  return kdLossReference({
    rows: inputs.rows,
    vocab: inputs.vocab,
    studentLogits: inputs.logits,
    labels: inputs.labels,
    ignoreIndex: inputs.ignoreIndex,
    normalizer: inputs.normalizer,
    rowWeights: inputs.rowWeights,
    softWeight: 0,
    hardWeight: inputs.weight ?? 1,
  });
}
