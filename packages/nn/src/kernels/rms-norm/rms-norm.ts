import { badValue, requirePositive } from '@distillery/core';
import { CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { hasSubgroups } from '@distillery/webgpu/wgsl';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { rmsNormKernel, type RmsNormVariant } from './rms-norm.wgsl.js';

const ROW_WORKGROUP = 64;
const COL_WORKGROUP = 64;

function variant(device: GPUDevice, pass: RmsNormVariant['pass'], accumulate = false): RmsNormVariant {
  const rowPass = pass !== 'param-grad';
  return { pass, accumulate, workgroupSize: rowPass ? ROW_WORKGROUP : COL_WORKGROUP, subgroups: rowPass && hasSubgroups(device) };
}

function dims(x: GpuTensor, weight: GpuTensor): { rows: number; cols: number } {
  requireDtype(x);
  requireDtype(weight);
  requireSameDevice(x, weight);
  const cols = x.shape[x.shape.length - 1] ?? 0;
  if (cols === 0) throw badValue(`${x.label}.shape`, x.shape, 'a non-empty last dimension');
  requireShape(weight, [cols]);
  return { rows: x.size / cols, cols };
}

/**
 * Records y = x · ρ · w with ρ = 1/√(mean(x²) + eps) over the last dimension (LlamaRMSNorm;
 * `eps` is the model's `rms_norm_eps`), and `rstd [rows]` = ρ for the backward.
 */
export function recordRmsNorm(
  recorder: CommandRecorder,
  x: GpuTensor,
  weight: GpuTensor,
  y: GpuTensor,
  rstd: GpuTensor,
  eps: number,
): void {
  const { rows, cols } = dims(x, weight);
  requireSameDevice(x, y, rstd);
  requireDtype(y);
  requireDtype(rstd);
  requireShape(y, x.shape);
  requireShape(rstd, [rows]);
  requirePositive('rmsNorm.eps', eps);
  rmsNormKernel.record(recorder, variant(recorder.device, 'forward'), {
    uniforms: { rows, cols, eps },
    bindings: { x, weight, y, rstd },
    workgroups: linearGrid(recorder.device, rows),
    label: `rms-norm ${x.label}`,
  });
}

/**
 * Records dx (skipped when `dx` is undefined) and dweight, added into `dweight` by default (as
 * parameter gradients are) in a fixed row order, so the sum is deterministic.
 */
export function recordRmsNormBackward(
  recorder: CommandRecorder,
  dy: GpuTensor,
  x: GpuTensor,
  weight: GpuTensor,
  rstd: GpuTensor,
  dx: GpuTensor | undefined,
  dweight: GpuTensor,
  { accumulate = true }: { accumulate?: boolean } = {},
): void {
  const { rows, cols } = dims(x, weight);
  for (const t of [dy, rstd, dweight]) requireDtype(t);
  requireSameDevice(x, dy, rstd, dweight);
  requireShape(dy, x.shape);
  requireShape(rstd, [rows]);
  requireShape(dweight, [cols]);
  if (dx) {
    requireDtype(dx);
    requireSameDevice(x, dx);
    requireShape(dx, x.shape);
    rmsNormKernel.record(recorder, variant(recorder.device, 'backward'), {
      uniforms: { rows, cols },
      bindings: { dy, x, weight, rstd, dx },
      workgroups: linearGrid(recorder.device, rows),
      label: `rms-norm' ${x.label}`,
    });
  }
  rmsNormKernel.record(recorder, variant(recorder.device, 'param-grad', accumulate), {
    uniforms: { rows, cols },
    bindings: { dy, x, rstd, dweight },
    workgroups: [Math.ceil(cols / COL_WORKGROUP)],
    label: `rms-norm dw ${x.label}`,
  });
}

/** y and rstd as new tensors, submitted. */
export async function rmsNorm(x: GpuTensor, weight: GpuTensor, eps: number): Promise<{ y: GpuTensor; rstd: GpuTensor }> {
  const { rows } = dims(x, weight);
  const y = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `rms(${x.label})` });
  const rstd = createTensor(x.device, { shape: [rows], dtype: 'f32', label: `rms-rstd(${x.label})` });
  const recorder = new CommandRecorder(x.device, 'rms-norm');
  recordRmsNorm(recorder, x, weight, y, rstd, eps);
  await recorder.submit();
  return { y, rstd };
}

/** dx and dweight as new tensors (dweight overwritten, not accumulated), submitted. */
export async function rmsNormBackward(
  dy: GpuTensor,
  x: GpuTensor,
  weight: GpuTensor,
  rstd: GpuTensor,
): Promise<{ dx: GpuTensor; dweight: GpuTensor }> {
  const { cols } = dims(x, weight);
  const dx = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `d${x.label}` });
  const dweight = createTensor(x.device, { shape: [cols], dtype: 'f32', label: `d${weight.label}` });
  const recorder = new CommandRecorder(x.device, 'rms-norm-backward');
  recordRmsNormBackward(recorder, dy, x, weight, rstd, dx, dweight, { accumulate: false });
  await recorder.submit();
  return { dx, dweight };
}
