import { parseConfig, type Parameter } from '@distillery/core';
import { checkBindingSize, linearGrid, type CommandRecorder, type GpuTensor } from '@distillery/webgpu';
import * as z from 'zod/mini';
import { adamwKernel } from '../kernels/adamw/adamw.wgsl.js';
import { GpuOptimizer } from './base.js';

export const adamwProgram = adamwKernel;

export const adamwConfigSchema = z.strictObject({
  beta1: z._default(z.number().check(z.gte(0), z.lt(1)), 0.9),
  beta2: z._default(z.number().check(z.gte(0), z.lt(1)), 0.999),
  eps: z._default(z.number().check(z.positive()), 1e-8),
  /** Decoupled weight decay (torch.optim.AdamW's default is 0.01). */
  weightDecay: z._default(z.number().check(z.gte(0)), 0.01),
  clipNorm: z._default(z.number().check(z.gte(0)), 0),
  checkFinite: z._default(z.boolean(), true),
});

export type AdamWConfig = z.input<typeof adamwConfigSchema>;

const WORKGROUP = 256;

/** AdamW on the GPU. */
export class AdamW extends GpuOptimizer {
  readonly name = 'adamw';
  protected readonly slots = ['m', 'v'] as const;
  readonly settings: z.output<typeof adamwConfigSchema>;

  constructor(config: AdamWConfig = {}) {
    const settings = parseConfig(adamwConfigSchema, config, 'adamw');
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
    step: number,
  ): void {
    const count = param.value.size;
    if (count === 0) return;
    checkBindingSize(recorder.device, param.name, param.value.byteLength);
    const { beta1, beta2, eps, weightDecay } = this.settings;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    adamwKernel.record(
      recorder,
      { workgroupSize: WORKGROUP },
      {
        uniforms: { count, lr, beta1, beta2, eps, weight_decay: weightDecay, step_size: lr / bc1, sqrt_bc2: Math.sqrt(bc2) },
        bindings: { stats, w: param.value, grad: param.grad, m: state.m, v: state.v },
        workgroups: linearGrid(recorder.device, Math.ceil(count / WORKGROUP)),
        label: `adamw ${param.name}`,
      },
    );
  }
}

/** Float64 reference of one AdamW step (`step` from 1) on plain arrays (mutated). */
export function adamwReference(
  w: Float64Array,
  grad: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  lr: number,
  step: number,
  { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01 } = {},
  scale = 1,
): void {
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < w.length; i++) {
    const g = scale * grad[i]!;
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    w[i] = w[i]! * (1 - lr * weightDecay) - (lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps));
  }
}
