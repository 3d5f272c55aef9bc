import type { HostTensor, TensorLike } from './tensor.js';

/** One trainable tensor and its gradient buffer. */
export interface Parameter<T extends TensorLike = TensorLike> {
  readonly name: string;
  readonly value: T;
  readonly grad: T;
}

/** Everything needed to rebuild a model: its config and its tensors by name. */
export interface ModelState {
  /** The constructor config of the model (JSON-serialisable). */
  config: Record<string, unknown>;
  tensors: Record<string, HostTensor>;
}

/** Extra gradients for `Student.backward`, beyond the one w.r.t. the logits. */
export interface BackwardOptions<T extends TensorLike = TensorLike> {
  /**
   * d loss / d hidden state `[rows, width]` by hidden-state name (see `hiddenStateWidths`), added
   * where that state enters the backward pass. Only models that expose hidden states accept it.
   */
  hidden?: Readonly<Record<string, T>>;
}

/**
 * A trainable model. `forward` returns logits `[rows, vocab]`; `backward` takes the gradient of
 * the loss w.r.t. those logits (and, optionally, w.r.t. named hidden states) and accumulates
 * parameter gradients into `parameters()[i].grad`.
 *
 * Models that expose hidden states (for feature matching) implement both optional members:
 * `hiddenStateWidths()` lists the names, in forward order, with their widths, and
 * `hiddenStates(names, mode)` returns those states `[rows, width]` from the last forward of that
 * mode — owned by the model and valid until its next forward of the same mode.
 */
export interface Student<TBatch = unknown, T extends TensorLike = TensorLike> {
  readonly name: string;
  readonly vocabSize: number;
  forward(batch: TBatch, options: { training: boolean }): Promise<T>;
  backward(gradLogits: T, options?: BackwardOptions<T>): Promise<void>;
  hiddenStateWidths?(): Readonly<Record<string, number>>;
  hiddenStates?(names: readonly string[], mode: { training: boolean }): Record<string, T>;
  parameters(): readonly Parameter<T>[];
  /** Clears accumulated gradients. */
  zeroGrad(): Promise<void> | void;
  saveState(): Promise<ModelState>;
  loadState(state: ModelState): Promise<void>;
}
