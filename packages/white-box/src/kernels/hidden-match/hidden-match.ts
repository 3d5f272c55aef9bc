import { badValue, shapeMismatch } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, hasSubgroups, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { hiddenMatchKernel, type HiddenMatchLoss } from './hidden-match.wgsl.js';

export const hiddenMatchProgram = hiddenMatchKernel;

export const HIDDEN_MATCH_LOSSES: readonly HiddenMatchLoss[] = ['mse', 'cosine'];

export interface HiddenMatchOptions {
  /** `[rows, width]` f32: the (projected) student state. */
  predicted: GpuTensor;
  /** `[rows, width]` f32: the teacher state. */
  target: GpuTensor;
  loss: HiddenMatchLoss;
  /** Multiplies the gradient (weight ÷ normaliser); the per-row losses are unscaled. */
  scale: number;
  /** `[rows]` f32, receives ℓ_r. */
  perRow: GpuTensor;
  /** `[rows, width]` f32, receives scale · ∂ℓ_r/∂predicted (overwritten). */
  grad: GpuTensor;
}

function requireF32Shape(field: string, t: GpuTensor, shape: readonly number[]): void {
  if (t.dtype !== 'f32') throw badValue(`${field}.dtype`, t.dtype, 'f32');
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw shapeMismatch(field, t.shape, `[${shape.join(', ')}]`);
}

/** Records the per-row MSE or cosine loss between two `[rows, width]` tensors and its gradient. */
export function recordHiddenMatch(recorder: CommandRecorder, options: HiddenMatchOptions): void {
  const { predicted, target, loss, scale, perRow, grad } = options;
  if (!HIDDEN_MATCH_LOSSES.includes(loss)) throw badValue('loss', loss, `one of ${HIDDEN_MATCH_LOSSES.join(', ')}`);
  if (!Number.isFinite(scale)) throw badValue('scale', scale, 'a finite number');
  if (predicted.shape.length !== 2) throw shapeMismatch('predicted', predicted.shape, '[rows, width]');
  const [rows, width] = predicted.shape as [number, number];
  requireF32Shape('predicted', predicted, [rows, width]);
  requireF32Shape('target', target, [rows, width]);
  requireF32Shape('perRow', perRow, [rows]);
  requireF32Shape('grad', grad, [rows, width]);
  if (rows === 0) return;
  checkBindingSize(recorder.device, 'predicted', predicted.byteLength);
  const workgroupSize = 64;
  hiddenMatchKernel.record(
    recorder,
    { loss, workgroupSize, subgroups: hasSubgroups(recorder.device) },
    {
      uniforms: { rows, width, scale },
      bindings: { predicted, teacher: target, perRow, grad },
      workgroups: linearGrid(recorder.device, rows),
    },
  );
}

/** `recordHiddenMatch` in its own submission, allocating the outputs. */
export async function hiddenMatch(options: Omit<HiddenMatchOptions, 'perRow' | 'grad'>): Promise<{ perRow: GpuTensor; grad: GpuTensor }> {
  const { predicted } = options;
  const device = predicted.device;
  const perRow = createTensor(device, { shape: [predicted.shape[0] ?? 0], dtype: 'f32', label: 'hidden-match-per-row' });
  const grad = createTensor(device, { shape: predicted.shape, dtype: 'f32', label: 'hidden-match-grad' });
  const recorder = new CommandRecorder(device, 'hidden-match');
  recordHiddenMatch(recorder, { ...options, perRow, grad });
  await recorder.submit();
  return { perRow, grad };
}
