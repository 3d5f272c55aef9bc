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

/**
 * A trainable model. `forward` returns logits `[rows, vocab]`; `backward` takes the gradient of
 * the loss w.r.t. those logits and accumulates parameter gradients into `parameters()[i].grad`.
 */
export interface Student<TBatch = unknown, T extends TensorLike = TensorLike> {
  readonly name: string;
  readonly vocabSize: number;
  forward(batch: TBatch, options: { training: boolean }): Promise<T>;
  backward(gradLogits: T): Promise<void>;
  parameters(): readonly Parameter<T>[];
  /** Clears accumulated gradients. */
  zeroGrad(): Promise<void> | void;
  saveState(): Promise<ModelState>;
  loadState(state: ModelState): Promise<void>;
}
