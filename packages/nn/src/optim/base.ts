import { badValue, DistilleryError, type HostTensor, type Optimizer, type OptimizerState, type Parameter } from '@distillery/core';
import { CommandRecorder, readTensor, uploadTensor, zerosTensor, type GpuTensor } from '@distillery/webgpu';
import {
  createGradNormBuffers,
  readGradNorm,
  recordGradNorm,
  type GradNormBuffers,
  type GradNormResult,
} from '../kernels/grad-norm/grad-norm.js';

export interface GpuOptimizerOptions {
  /** Scale gradients so their global L2 norm is at most this (0 or absent: no clipping). */
  clipNorm?: number;
  /**
   * After each step, read back the gradients' finite flag (4 + n floats) and throw E_NON_FINITE
   * naming the step and the first tensor with a NaN/Inf gradient. Default true. Either way, an
   * update whose gradients are not finite is skipped on the GPU, so the weights stay valid.
   */
  checkFinite?: boolean;
}

/**
 * What the GPU optimisers share: per-parameter state buffers created on first use, the global
 * norm/finite pass, exact save/load of the state, and the non-finite guard.
 */
export abstract class GpuOptimizer implements Optimizer<GpuTensor> {
  abstract readonly name: string;
  /** Names of the per-parameter state tensors (`momentum`, or `m` and `v`). */
  protected abstract readonly slots: readonly string[];
  readonly clipNorm: number;
  readonly checkFinite: boolean;
  #step = 0;
  readonly #state = new Map<string, Record<string, GpuTensor>>();
  readonly #pending = new Map<string, HostTensor>();
  #norm: { buffers: GradNormBuffers; count: number; constant: boolean } | undefined;
  #last: GradNormResult | undefined;

  constructor(options: GpuOptimizerOptions) {
    const clip = options.clipNorm ?? 0;
    if (!(Number.isFinite(clip) && clip >= 0)) throw badValue('clipNorm', clip, 'a finite number >= 0');
    this.clipNorm = clip;
    this.checkFinite = options.checkFinite ?? true;
  }

  /** Steps taken (the bias-correction count of Adam). */
  get stepCount(): number {
    return this.#step;
  }

  /** Global gradient norm (before clipping) of the last step, when it was measured. */
  get lastGradNorm(): number | undefined {
    return this.#last?.norm;
  }

  /** The hyper-parameters, as saved in `OptimizerState.config`. */
  protected abstract config(): Record<string, unknown>;

  /** Records the update of one parameter; `step` counts from 1. */
  protected abstract recordUpdate(
    recorder: CommandRecorder,
    param: Parameter<GpuTensor>,
    state: Record<string, GpuTensor>,
    stats: GpuTensor,
    lr: number,
    step: number,
  ): void;

  #stateFor(param: Parameter<GpuTensor>): Record<string, GpuTensor> {
    let state = this.#state.get(param.name);
    if (state) {
      for (const t of Object.values(state)) {
        if (t.size !== param.value.size) {
          throw new DistilleryError(
            'E_SHAPE_MISMATCH',
            `${this.name}: parameter ${param.name} has ${param.value.size} elements but its optimiser state has ${t.size}`,
            { field: param.name },
          );
        }
      }
      return state;
    }
    state = {};
    const device = param.value.device;
    for (const slot of this.slots) {
      const key = `${param.name}.${slot}`;
      const saved = this.#pending.get(key);
      const label = `${this.name}:${key}`;
      if (saved) {
        if (saved.data.length !== param.value.size || saved.dtype !== 'f32') {
          throw new DistilleryError(
            'E_SHAPE_MISMATCH',
            `${this.name}: saved state ${key} has ${saved.data.length} ${saved.dtype} elements, parameter ${param.name} has ${param.value.size} f32`,
            {
              field: key,
            },
          );
        }
        state[slot] = uploadTensor(device, { ...saved, shape: param.value.shape }, label);
        this.#pending.delete(key);
      } else {
        state[slot] = zerosTensor(device, { shape: param.value.shape, dtype: 'f32', label });
      }
    }
    this.#state.set(param.name, state);
    return state;
  }

  #normBuffers(device: GPUDevice, count: number): GradNormBuffers {
    const constant = !(this.clipNorm > 0 || this.checkFinite);
    if (!this.#norm || this.#norm.count !== count || this.#norm.constant !== constant) {
      if (this.#norm) {
        this.#norm.buffers.partials.release();
        this.#norm.buffers.stats.release();
      }
      const buffers = createGradNormBuffers(device, count);
      // Without clipping or checks the update kernels read a constant scale 1 and finite flag 1.
      if (constant) device.queue.writeBuffer(buffers.stats.buffer, 0, new Float32Array([0, 1, 1, 0]));
      this.#norm = { buffers, count, constant };
    }
    return this.#norm.buffers;
  }

  async step(parameters: readonly Parameter<GpuTensor>[], learningRate: number): Promise<void> {
    if (!(Number.isFinite(learningRate) && learningRate >= 0)) throw badValue('learningRate', learningRate, 'a finite number >= 0');
    if (parameters.length === 0) return;
    const device = parameters[0]!.value.device;
    const buffers = this.#normBuffers(device, parameters.length);
    const recorder = new CommandRecorder(device, `${this.name}-step`);
    if (!this.#norm!.constant)
      recordGradNorm(
        recorder,
        parameters.map((p) => p.grad),
        buffers,
        this.clipNorm,
      );
    const step = this.#step + 1;
    for (const param of parameters) this.recordUpdate(recorder, param, this.#stateFor(param), buffers.stats, learningRate, step);
    await recorder.submit();
    if (this.checkFinite) {
      const result = await readGradNorm(buffers, parameters.length);
      if (!result.finite) {
        const bad = parameters.findIndex((_, i) => !Number.isFinite(result.perTensor[i]!));
        const tensor = bad >= 0 ? `${parameters[bad]!.name}.grad` : 'the global gradient norm';
        throw new DistilleryError(
          'E_NON_FINITE',
          `${this.name}: ${bad >= 0 ? `gradient ${tensor} contains NaN or Inf` : 'the global gradient norm overflowed'} at step ${this.#step}; the update was skipped and the weights are unchanged`,
          { field: tensor, tensor, step: this.#step, value: bad >= 0 ? result.perTensor[bad] : result.norm ** 2 },
        );
      }
      this.#last = result;
    }
    this.#step = step;
  }

  async saveState(): Promise<OptimizerState> {
    const tensors: Record<string, HostTensor> = {};
    for (const [name, state] of this.#state) {
      for (const [slot, tensor] of Object.entries(state)) tensors[`${name}.${slot}`] = await readTensor(tensor);
    }
    // State loaded but not yet used (no step since loadState) is saved as it was.
    for (const [key, tensor] of this.#pending) tensors[key] = tensor;
    return { step: this.#step, config: { kind: this.name, ...this.config() }, tensors };
  }

  async loadState(state: OptimizerState): Promise<void> {
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw badValue('optimizer.step', state.step, 'an integer >= 0');
    if (state.config.kind !== undefined && state.config.kind !== this.name) {
      throw new DistilleryError('E_BAD_CONFIG', `optimiser state was saved by ${String(state.config.kind)}, not ${this.name}`, {
        field: 'optimizer.config.kind',
        value: state.config.kind,
      });
    }
    this.release();
    for (const [key, tensor] of Object.entries(state.tensors)) {
      if (!this.slots.some((slot) => key.endsWith(`.${slot}`))) {
        throw new DistilleryError(
          'E_BAD_CONFIG',
          `${this.name}: unexpected optimiser state tensor ${key} (slots are ${this.slots.join(', ')})`,
          { field: key },
        );
      }
      this.#pending.set(key, tensor);
    }
    this.#step = state.step;
  }

  /** Frees the state buffers (a later step starts them from zero unless state was loaded). */
  release(): void {
    for (const state of this.#state.values()) for (const t of Object.values(state)) t.release();
    this.#state.clear();
    this.#pending.clear();
    if (this.#norm) {
      this.#norm.buffers.partials.release();
      this.#norm.buffers.stats.release();
      this.#norm = undefined;
    }
  }
}
