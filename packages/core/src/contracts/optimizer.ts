import type { HostTensor, TensorLike } from './tensor.js';
import type { Parameter } from './student.js';

export interface OptimizerState {
  step: number;
  /** Hyper-parameters as configured (betas, weight decay...). */
  config: Record<string, unknown>;
  /** Moment buffers etc., keyed `<parameter name>.<slot>`. */
  tensors: Record<string, HostTensor>;
}

/** Updates parameters from their gradients. The learning rate comes from a scheduler each step. */
export interface Optimizer<T extends TensorLike = TensorLike> {
  readonly name: string;
  step(parameters: readonly Parameter<T>[], learningRate: number): Promise<void>;
  saveState(): Promise<OptimizerState>;
  loadState(state: OptimizerState): Promise<void>;
}
