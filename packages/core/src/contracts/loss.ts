import type { TeacherTargets } from './teacher.js';
import type { Readable, TensorLike } from './tensor.js';

export interface LossInputs<T extends TensorLike = TensorLike> {
  /** `[rows, vocab]` student logits. */
  studentLogits: T;
  /** Teacher targets; absent for purely supervised losses or an unlabelled... never both absent. */
  targets?: TeacherTargets<T>;
  /** `[rows]` i32 class indices; rows equal to the loss's ignore index are skipped. */
  labels?: T;
  /** Current values of the loss's hyper-parameters (temperature, weights...), usually from schedulers. */
  hyper: Readonly<Record<string, number>>;
  /**
   * Divide the summed loss (and gradient) by this instead of the number of non-ignored rows.
   * Pass the micro-batch-independent count so gradient accumulation stays exact.
   */
  normalizer?: number;
  /**
   * `[rows]` f32 weights, one per row: each row's loss terms and its gradient are multiplied by
   * its weight before the sum ÷ normalizer (per-sample or per-task weighting, e.g. step-by-step's
   * L_label + λ·L_rationale in one batch). A loss that cannot apply them must throw, never ignore them.
   */
  rowWeights?: T;
}

export interface LossTerm<T extends TensorLike = TensorLike> {
  /** `[rows]` unreduced term. */
  perRow: T;
  /** The term summed over rows ÷ normalizer. */
  reduced: Readable<number>;
}

export interface LossOutput<T extends TensorLike = TensorLike> {
  total: Readable<number>;
  /** Named terms (e.g. `soft`, `hard`), each already weighted as it enters `total`. */
  terms: Record<string, LossTerm<T>>;
  /** `[rows, vocab]` d total / d studentLogits, computed in the same pass as the loss. */
  gradLogits: T;
  /** Number of non-ignored rows that contributed. */
  rows: Readable<number>;
}

/** A fused forward+backward loss on logits. */
export interface Loss<T extends TensorLike = TensorLike> {
  readonly name: string;
  /** Names of the hyper-parameters `compute` reads from `inputs.hyper`, with their defaults. */
  readonly hyperDefaults: Readonly<Record<string, number>>;
  compute(inputs: LossInputs<T>): Promise<LossOutput<T>>;
}
