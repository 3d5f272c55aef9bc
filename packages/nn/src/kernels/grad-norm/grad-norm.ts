import { requireNonNegative } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, hasSubgroups, readFloat32, type GpuTensor } from '@distillery/webgpu';
import { requireDtype } from '../../checks.js';
import { gradNormFinalizeKernel, NORM_PARTIALS, STATS_PER_TENSOR, sumSquaresKernel } from './grad-norm.wgsl.js';

export const sumSquaresProgram = sumSquaresKernel;
export const gradNormFinalizeProgram = gradNormFinalizeKernel;

const WORKGROUP = 256;

/** Scratch buffers for the global-norm reduction of `tensors` tensors. */
export interface GradNormBuffers {
  partials: GpuTensor;
  /** [Σg², clip scale, finite flag (1/0), unused, Σg² of tensor 0, 1, ...]. */
  stats: GpuTensor;
}

export function createGradNormBuffers(device: GPUDevice, tensors: number): GradNormBuffers {
  return {
    partials: createTensor(device, { shape: [Math.max(1, tensors) * NORM_PARTIALS], dtype: 'f32', label: 'grad-norm-partials' }),
    stats: createTensor(device, { shape: [STATS_PER_TENSOR + Math.max(1, tensors)], dtype: 'f32', label: 'grad-norm-stats' }),
  };
}

/**
 * Records the global L2 norm of `grads` and the clip scale (maxNorm 0 = no clipping) into
 * `buffers.stats`, entirely on the GPU: the update kernels read the scale from there, so clipping
 * costs no readback.
 */
export function recordGradNorm(recorder: CommandRecorder, grads: readonly GpuTensor[], buffers: GradNormBuffers, maxNorm = 0): void {
  requireNonNegative('clipNorm', maxNorm);
  grads.forEach((g, slot) => {
    requireDtype(g);
    checkBindingSize(recorder.device, g.label, g.byteLength);
    sumSquaresKernel.record(
      recorder,
      { workgroupSize: WORKGROUP, subgroups: hasSubgroups(recorder.device) },
      {
        uniforms: { count: g.size, slot },
        bindings: { x: g, partials: buffers.partials },
        workgroups: [NORM_PARTIALS],
        label: `Σ² ${g.label}`,
      },
    );
  });
  gradNormFinalizeKernel.record(
    recorder,
    {},
    {
      uniforms: { tensors: grads.length, max_norm: maxNorm },
      bindings: { partials: buffers.partials, stats: buffers.stats },
      workgroups: [1],
      label: 'grad-norm',
    },
  );
}

export interface GradNormResult {
  norm: number;
  scale: number;
  finite: boolean;
  /** Σg² of each tensor, in order. */
  perTensor: number[];
}

export async function readGradNorm(buffers: GradNormBuffers, tensors: number): Promise<GradNormResult> {
  const stats = await readFloat32(buffers.stats);
  return {
    norm: Math.sqrt(stats[0]!),
    scale: stats[1]!,
    finite: stats[2] === 1,
    perTensor: Array.from(stats.subarray(STATS_PER_TENSOR, STATS_PER_TENSOR + tensors)),
  };
}

/** Global norm (and clip scale) of `grads`, submitted and read back. */
export async function gradNorm(grads: readonly GpuTensor[], maxNorm = 0): Promise<GradNormResult> {
  const device = grads[0]!.device;
  const buffers = createGradNormBuffers(device, grads.length);
  const recorder = new CommandRecorder(device, 'grad-norm');
  recordGradNorm(recorder, grads, buffers, maxNorm);
  await recorder.submit();
  const result = await readGradNorm(buffers, grads.length);
  buffers.partials.release();
  buffers.stats.release();
  return result;
}

/** Float64 reference: norm and clip scale. */
export function gradNormReference(grads: readonly ArrayLike<number>[], maxNorm = 0): { norm: number; scale: number } {
  let total = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) total += g[i]! * g[i]!;
  const norm = Math.sqrt(total);
  return { norm, scale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
