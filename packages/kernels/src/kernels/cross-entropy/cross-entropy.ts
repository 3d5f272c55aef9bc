import type { CommandRecorder, GpuTensor } from '@distillery/webgpu';
import { planRowLoss, type CheckMode } from '../row-loss/plan.js';
import { recordRowLoss, runRowLoss } from '../row-loss/record.js';
import type { RowLossResult } from '../row-loss/result.js';
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

/** Cross-entropy is the row loss with no teacher and only the hard term. */
function toRowLoss(options: CrossEntropyOptions) {
  return planRowLoss({
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
  return recordRowLoss(recorder, toRowLoss(options));
}

/**
 * Hard-label cross-entropy at T = 1: per row −ln softmax(z)_y (times its row weight, if any),
 * summed over non-ignored rows ÷ N, with dL/dz = weight · w_r · (softmax(z) − onehot(y)) / N, in one submit. The result's `terms.hard` is the loss.
 */
export async function crossEntropy(options: CrossEntropyOptions): Promise<RowLossResult> {
  return runRowLoss(toRowLoss(options), options.check);
}
