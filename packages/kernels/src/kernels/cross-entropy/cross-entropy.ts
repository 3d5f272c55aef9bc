import { CommandRecorder, type GpuTensor } from '@distillery/webgpu';
import { planKdLoss, recordRowLoss, type CheckMode, type RowLossResult } from '../kd-loss/kd-loss.js';
import type { FloatDType } from '../../shared/wgsl-lib.js';

export interface CrossEntropyOptions {
  /** `[rows, V]` logits, f32 or f16. */
  logits: GpuTensor;
  /** `[rows]` i32 class indices; rows equal to ignoreIndex are skipped. */
  labels: GpuTensor;
  /** Label value of rows to skip. Default −100. */
  ignoreIndex?: number;
  /** Divide the sum (and the gradient) by this instead of the number of non-ignored rows. */
  normalizer?: number;
  /** Multiplies the loss and the gradient. Default 1. */
  weight?: number;
  /**
   * `[rows]` f32 weights ≥ 0: row r's loss and gradient are multiplied by w_r before the sum ÷ N
   * (N unchanged: the normaliser, else the number of non-ignored rows). See `KdLossOptions.rowWeights`.
   */
  rowWeights?: GpuTensor;
  gradDtype?: FloatDType;
  check?: CheckMode;
}

function toKd(options: CrossEntropyOptions) {
  return planKdLoss({
    studentLogits: options.logits,
    labels: options.labels,
    softWeight: 0,
    hardWeight: options.weight ?? 1,
    ignoreIndex: options.ignoreIndex,
    normalizer: options.normalizer,
    rowWeights: options.rowWeights,
    gradDtype: options.gradDtype,
    check: options.check,
    names: { student: 'logits', labels: 'labels', rowWeights: 'rowWeights' },
  });
}

/** Records the hard-label cross-entropy and its gradient into `recorder` (nothing submitted). */
export function recordCrossEntropy(recorder: CommandRecorder, options: CrossEntropyOptions): RowLossResult {
  return recordRowLoss(recorder, toKd(options));
}

/**
 * Hard-label cross-entropy at T = 1: per row −ln softmax(z)_y (times its row weight, if any),
 * summed over non-ignored rows ÷ N, with dL/dz = weight · w_r · (softmax(z) − onehot(y)) / N, in one submit. The result's `terms.hard` is the loss.
 */
export async function crossEntropy(options: CrossEntropyOptions): Promise<RowLossResult> {
  const plan = toKd(options);
  const recorder = new CommandRecorder(plan.device, 'cross-entropy');
  const result = recordRowLoss(recorder, plan);
  await recorder.submit();
  result.releaseScratch();
  if ((options.check ?? 'await') === 'await') {
    try {
      await result.check();
    } catch (error) {
      result.release();
      throw error;
    }
  }
  return result;
}
