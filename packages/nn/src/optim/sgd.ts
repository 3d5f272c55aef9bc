import { parseConfig, type Parameter } from '@distillery/core';
import { checkBindingSize, linearGrid, type CommandRecorder, type GpuTensor } from '@distillery/webgpu';
import * as z from 'zod/mini';
import { sgdKernel } from '../kernels/sgd/sgd.wgsl.js';
import { GpuOptimizer } from './base.js';

export const sgdProgram = sgdKernel;

export const sgdConfigSchema = z.strictObject({
  momentum: z._default(z.number().check(z.gte(0), z.lt(1)), 0.9),
  nesterov: z._default(z.boolean(), false),
  /** L2 penalty added to the gradient (coupled, as torch.optim.SGD). */
  weightDecay: z._default(z.number().check(z.gte(0)), 0),
  clipNorm: z._default(z.number().check(z.gte(0)), 0),
  checkFinite: z._default(z.boolean(), true),
});

export type SgdConfig = z.input<typeof sgdConfigSchema>;

const WORKGROUP = 256;

/** SGD with (heavy-ball or Nesterov) momentum on the GPU. */
export class Sgd extends GpuOptimizer {
  readonly name = 'sgd';
  protected readonly slots = ['momentum'] as const;
  readonly settings: z.output<typeof sgdConfigSchema>;

  constructor(config: SgdConfig = {}) {
    const settings = parseConfig(sgdConfigSchema, config, 'sgd');
    super(settings);
    this.settings = settings;
  }

  protected config(): Record<string, unknown> {
    return { ...this.settings };
  }

  protected recordUpdate(
    recorder: CommandRecorder,
    param: Parameter<GpuTensor>,
    state: Record<string, GpuTensor>,
    stats: GpuTensor,
    lr: number,
  ): void {
    const count = param.value.size;
    if (count === 0) return;
    checkBindingSize(recorder.device, param.name, param.value.byteLength);
    sgdKernel.record(
      recorder,
      { nesterov: this.settings.nesterov, workgroupSize: WORKGROUP },
      {
        uniforms: { count, lr, momentum: this.settings.momentum, weight_decay: this.settings.weightDecay },
        bindings: { stats, w: param.value, grad: param.grad, velocity: state.momentum },
        workgroups: linearGrid(recorder.device, Math.ceil(count / WORKGROUP)),
        label: `sgd ${param.name}`,
      },
    );
  }
}

/** Float64 reference of one SGD step on plain arrays (mutated). */
export function sgdReference(
  w: Float64Array,
  grad: ArrayLike<number>,
  velocity: Float64Array,
  lr: number,
  { momentum = 0.9, nesterov = false, weightDecay = 0 } = {},
  scale = 1,
): void {
  for (let i = 0; i < w.length; i++) {
    const g = scale * grad[i]! + weightDecay * w[i]!;
    velocity[i] = momentum * velocity[i]! + g;
    w[i] = w[i]! - lr * (nesterov ? g + momentum * velocity[i]! : velocity[i]!);
  }
}
