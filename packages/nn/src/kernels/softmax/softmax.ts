import { badValue, requirePositive } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, hasSubgroups, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { softmaxKernel } from './softmax.wgsl.js';

export const softmaxProgram = softmaxKernel;

const WORKGROUP = 64;

export interface SoftmaxOptions {
  /** Multiplies the scores first (1/√d_head for attention). Default 1. */
  scale?: number;
  /** Causal mask over square `[..., T, T]` blocks. */
  causal?: boolean;
}

function rowsOf(t: GpuTensor, causal: boolean): { rows: number; cols: number } {
  requireDtype(t);
  const cols = t.shape[t.shape.length - 1] ?? 0;
  if (cols === 0) throw badValue(`${t.label}.shape`, t.shape, 'a non-empty last dimension');
  if (causal && t.shape[t.shape.length - 2] !== cols) throw badValue(`${t.label}.shape`, t.shape, '[..., T, T] for a causal mask');
  return { rows: t.size / cols, cols };
}

/** Records p = softmax(scale · s) over the last dimension (causally masked when asked). */
export function recordSoftmax(
  recorder: CommandRecorder,
  s: GpuTensor,
  p: GpuTensor,
  { scale = 1, causal = false }: SoftmaxOptions = {},
): void {
  const { rows, cols } = rowsOf(s, causal);
  requireSameDevice(s, p);
  requireShape(p, s.shape);
  requirePositive('softmax.scale', scale);
  checkBindingSize(recorder.device, s.label, s.byteLength);
  softmaxKernel.record(
    recorder,
    { backward: false, causal, workgroupSize: WORKGROUP, subgroups: hasSubgroups(recorder.device) },
    {
      uniforms: { rows, cols, scale },
      bindings: { s, p },
      workgroups: linearGrid(recorder.device, rows),
      label: `softmax ${s.label}`,
    },
  );
}

/** Records ds = scale · p ⊙ (dp − Σ p·dp), the gradient w.r.t. the unscaled scores. */
export function recordSoftmaxBackward(
  recorder: CommandRecorder,
  p: GpuTensor,
  dp: GpuTensor,
  ds: GpuTensor,
  { scale = 1, causal = false }: SoftmaxOptions = {},
): void {
  const { rows, cols } = rowsOf(p, causal);
  requireSameDevice(p, dp, ds);
  requireShape(dp, p.shape);
  requireShape(ds, p.shape);
  requirePositive('softmax.scale', scale);
  checkBindingSize(recorder.device, p.label, p.byteLength);
  softmaxKernel.record(
    recorder,
    { backward: true, causal, workgroupSize: WORKGROUP, subgroups: hasSubgroups(recorder.device) },
    {
      uniforms: { rows, cols, scale },
      bindings: { p, dp, ds },
      workgroups: linearGrid(recorder.device, rows),
      label: `softmax' ${p.label}`,
    },
  );
}

export async function softmax(s: GpuTensor, options: SoftmaxOptions = {}): Promise<GpuTensor> {
  const p = createTensor(s.device, { shape: s.shape, dtype: 'f32', label: `softmax(${s.label})` });
  const recorder = new CommandRecorder(s.device, 'softmax');
  recordSoftmax(recorder, s, p, options);
  await recorder.submit();
  return p;
}

export async function softmaxBackward(p: GpuTensor, dp: GpuTensor, options: SoftmaxOptions = {}): Promise<GpuTensor> {
  const ds = createTensor(p.device, { shape: p.shape, dtype: 'f32', label: `dsoftmax(${p.label})` });
  const recorder = new CommandRecorder(p.device, 'softmax-backward');
  recordSoftmaxBackward(recorder, p, dp, ds, options);
  await recorder.submit();
  return ds;
}

/** Float64 references. */
export function softmaxReference(s: ArrayLike<number>, cols: number, { scale = 1, causal = false }: SoftmaxOptions = {}): Float64Array {
  const out = new Float64Array(s.length);
  for (let r = 0; r < s.length / cols; r++) {
    const valid = causal ? (r % cols) + 1 : cols;
    let m = -Infinity;
    for (let j = 0; j < valid; j++) m = Math.max(m, scale * s[r * cols + j]!);
    let sum = 0;
    for (let j = 0; j < valid; j++) sum += Math.exp(scale * s[r * cols + j]! - m);
    for (let j = 0; j < valid; j++) out[r * cols + j] = Math.exp(scale * s[r * cols + j]! - m) / sum;
  }
  return out;
}

export function softmaxBackwardReference(
  p: ArrayLike<number>,
  dp: ArrayLike<number>,
  cols: number,
  { scale = 1 }: SoftmaxOptions = {},
): Float64Array {
  const out = new Float64Array(p.length);
  for (let r = 0; r < p.length / cols; r++) {
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += p[r * cols + j]! * dp[r * cols + j]!;
    for (let j = 0; j < cols; j++) out[r * cols + j] = scale * p[r * cols + j]! * (dp[r * cols + j]! - dot);
  }
  return out;
}
