import { badValue, requirePositive } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, hasSubgroups, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { layerNormKernel } from './layer-norm.wgsl.js';

export const layerNormProgram = layerNormKernel;

const ROW_WORKGROUP = 64;
const COL_WORKGROUP = 64;

function dims(x: GpuTensor, gamma: GpuTensor): { rows: number; cols: number } {
  requireDtype(x);
  requireDtype(gamma);
  requireSameDevice(x, gamma);
  const cols = x.shape[x.shape.length - 1] ?? 0;
  requireShape(gamma, [cols]);
  if (cols === 0) throw badValue(`${x.label}.shape`, x.shape, 'a non-empty last dimension');
  return { rows: x.size / cols, cols };
}

/**
 * Records y = (x − mean) / √(var + eps) · γ + β over the last dimension, and `stats [rows, 2]`
 * (mean, 1/σ) for the backward.
 */
export function recordLayerNorm(
  recorder: CommandRecorder,
  x: GpuTensor,
  gamma: GpuTensor,
  beta: GpuTensor,
  y: GpuTensor,
  stats: GpuTensor,
  eps = 1e-5,
): void {
  const { rows, cols } = dims(x, gamma);
  requireShape(beta, [cols]);
  requireShape(y, x.shape);
  requireShape(stats, [rows, 2]);
  requirePositive('layerNorm.eps', eps);
  checkBindingSize(recorder.device, x.label, x.byteLength);
  layerNormKernel.record(
    recorder,
    { pass: 'forward', accumulate: false, workgroupSize: ROW_WORKGROUP, subgroups: hasSubgroups(recorder.device) },
    {
      uniforms: { rows, cols, eps },
      bindings: { x, gamma, beta, y, stats },
      workgroups: linearGrid(recorder.device, rows),
      label: `layer-norm ${x.label}`,
    },
  );
}

/** Records dx, and dγ/dβ (accumulated by default, as parameter gradients are). */
export function recordLayerNormBackward(
  recorder: CommandRecorder,
  dy: GpuTensor,
  x: GpuTensor,
  gamma: GpuTensor,
  stats: GpuTensor,
  dx: GpuTensor | undefined,
  dgamma: GpuTensor,
  dbeta: GpuTensor,
  { accumulate = true } = {},
): void {
  const { rows, cols } = dims(x, gamma);
  requireShape(dy, x.shape);
  requireShape(stats, [rows, 2]);
  requireShape(dgamma, [cols]);
  requireShape(dbeta, [cols]);
  checkBindingSize(recorder.device, x.label, x.byteLength);
  if (dx) {
    requireShape(dx, x.shape);
    layerNormKernel.record(
      recorder,
      { pass: 'backward', accumulate: false, workgroupSize: ROW_WORKGROUP, subgroups: hasSubgroups(recorder.device) },
      {
        uniforms: { rows, cols, eps: 0 },
        bindings: { dy, x, gamma, stats, dx },
        workgroups: linearGrid(recorder.device, rows),
        label: `layer-norm' ${x.label}`,
      },
    );
  }
  layerNormKernel.record(
    recorder,
    { pass: 'param-grad', accumulate, workgroupSize: COL_WORKGROUP, subgroups: false },
    {
      uniforms: { rows, cols, eps: 0 },
      bindings: { dy, x, stats, dgamma, dbeta },
      workgroups: [Math.ceil(cols / COL_WORKGROUP)],
      label: `layer-norm dγ dβ ${x.label}`,
    },
  );
}

export async function layerNorm(x: GpuTensor, gamma: GpuTensor, beta: GpuTensor, eps = 1e-5): Promise<{ y: GpuTensor; stats: GpuTensor }> {
  const { rows } = dims(x, gamma);
  const y = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `ln(${x.label})` });
  const stats = createTensor(x.device, { shape: [rows, 2], dtype: 'f32', label: `ln-stats(${x.label})` });
  const recorder = new CommandRecorder(x.device, 'layer-norm');
  recordLayerNorm(recorder, x, gamma, beta, y, stats, eps);
  await recorder.submit();
  return { y, stats };
}

export async function layerNormBackward(
  dy: GpuTensor,
  x: GpuTensor,
  gamma: GpuTensor,
  stats: GpuTensor,
): Promise<{ dx: GpuTensor; dgamma: GpuTensor; dbeta: GpuTensor }> {
  const cols = gamma.size;
  const dx = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `d${x.label}` });
  const dgamma = createTensor(x.device, { shape: [cols], dtype: 'f32', label: 'dgamma' });
  const dbeta = createTensor(x.device, { shape: [cols], dtype: 'f32', label: 'dbeta' });
  const recorder = new CommandRecorder(x.device, 'layer-norm-backward');
  recordLayerNormBackward(recorder, dy, x, gamma, stats, dx, dgamma, dbeta, { accumulate: false });
  await recorder.submit();
  return { dx, dgamma, dbeta };
}
