/**
 * @distillery/kernels: hand-written WGSL kernels for knowledge distillation. Each takes GpuTensors
 * from @distillery/webgpu and records its dispatches into one compute pass (one submit).
 * The float64 references live in `@distillery/kernels/reference`; the math is in docs/kernels.md.
 */
import type { CommandRecorder } from '@distillery/webgpu';
import { planKdLoss, type KdLossOptions } from './kernels/kd-loss/kd-loss.js';
import { recordRowLoss } from './kernels/row-loss/record.js';
import type { RowLossResult } from './kernels/row-loss/result.js';

export { recordTemperedSoftmax, temperedSoftmax, type RecordedSoftmax, type TemperedSoftmaxOptions } from './kernels/softmax/softmax.js';
export {
  DIVERGENCES,
  kdLoss,
  planKdLoss,
  RowLossResult,
  TAIL_MODES,
  VOCAB_MISMATCH,
  type CheckMode,
  type Divergence,
  type KdLossOptions,
  type RowLossPlan,
  type TailMode,
  type VocabMismatch,
} from './kernels/kd-loss/kd-loss.js';
export { crossEntropy, recordCrossEntropy, type CrossEntropyOptions } from './kernels/cross-entropy/cross-entropy.js';
export { CrossEntropyLoss, KdLoss, type CrossEntropyLossConfig, type KdLossConfig } from './loss.js';
export { crossEntropyPlugin, kdLossPlugin, plugins } from './plugins.js';
export * as programs from './programs.js';
export { FLAG } from './shared/layout.js';
export { rowWindow, viewOffset, WindowRecorder } from './shared/windows.js';
export type { FloatDType } from './shared/wgsl-lib.js';

/** The result of `kdLoss` / `crossEntropy` (core's `LossOutput` plus per-row tensors, `check()` and `release()`). */
export type KdLossResult = RowLossResult;

/** Records the fused KD loss into `recorder` without submitting (batch it with other work); call `result.check()` after submitting. */
export function recordKdLoss(recorder: CommandRecorder, options: KdLossOptions): RowLossResult {
  return recordRowLoss(recorder, planKdLoss(options));
}
