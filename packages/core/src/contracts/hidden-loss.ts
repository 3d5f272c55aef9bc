import type { Parameter } from './student.js';
import type { HostTensor, Readable, TensorLike } from './tensor.js';

/** Hidden-state widths by name, as `Student.hiddenStateWidths()` and `WhiteBoxTeacher.hiddenStateWidths()` give them. */
export type HiddenStateWidths = Readonly<Record<string, number>>;

export interface HiddenLossInputs<T extends TensorLike = TensorLike> {
  /** The student's hidden states `[rows, width]` named in `studentLayers`, from its training forward. */
  student: Readonly<Record<string, T>>;
  /** The teacher's hidden states named in `teacherLayers`: read-only, they get no gradient. */
  teacher: Readonly<Record<string, T>>;
  /** The step's scheduled hyper-parameters (the same record the logit loss receives). */
  hyper: Readonly<Record<string, number>>;
}

export interface HiddenLossOutput<T extends TensorLike = TensorLike> {
  /** Σ of the weighted terms. */
  total: Readable<number>;
  /** Each named term, already weighted as it enters `total`. */
  terms: Record<string, Readable<number>>;
  /** d total / d student hidden state, by student hidden-state name. */
  gradHidden: Record<string, T>;
}

/**
 * A loss between student and teacher hidden states (feature matching), added to the logit loss.
 * It may own trainable parameters (e.g. a projection from the student's width to the teacher's):
 * the `Distiller` steps them with the student's optimiser and saves them in checkpoints.
 */
export interface HiddenLoss<T extends TensorLike = TensorLike> {
  readonly name: string;
  /** Student hidden-state names `compute` reads. */
  readonly studentLayers: readonly string[];
  /** Teacher hidden-state names the teacher must return with its targets. */
  readonly teacherLayers: readonly string[];
  /** Hyper-parameters `compute` reads from `inputs.hyper` (schedulable), with their defaults. */
  readonly hyperDefaults: Readonly<Record<string, number>>;
  /**
   * Checks the layer names and widths against the models and creates any parameters; called once
   * by the `Distiller` before training. Unknown names and unusable widths are typed errors.
   */
  bind(models: { student: HiddenStateWidths; teacher: HiddenStateWidths }): void;
  compute(inputs: HiddenLossInputs<T>): Promise<HiddenLossOutput<T>>;
  /** Trainable parameters (empty when there are none); valid after `bind`. */
  parameters(): readonly Parameter<T>[];
  /** Clears the parameters' gradients before a step's `compute` accumulates into them. */
  zeroGrad(): Promise<void> | void;
  saveState(): Promise<Record<string, HostTensor>>;
  loadState(tensors: Record<string, HostTensor>): Promise<void>;
}
