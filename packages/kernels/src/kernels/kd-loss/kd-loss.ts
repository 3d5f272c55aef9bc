import { planRowLoss, type RowLossOptions, type RowLossPlan } from '../row-loss/plan.js';
import { runRowLoss } from '../row-loss/record.js';
import type { RowLossResult } from '../row-loss/result.js';

/*
 * The KD front end over the row-loss engine (../row-loss: plan → record → result), which
 * cross-entropy shares. The engine's options are the KD loss's options.
 */

export {
  DIVERGENCES,
  TAIL_MODES,
  VOCAB_MISMATCH,
  type CheckMode,
  type Divergence,
  type RowLossPlan,
  type TailMode,
  type VocabMismatch,
} from '../row-loss/plan.js';
export { recordRowLoss } from '../row-loss/record.js';
export { RowLossResult } from '../row-loss/result.js';

/** Options of `kdLoss` / `recordKdLoss`: every field of the engine's `RowLossOptions`. */
export type KdLossOptions = RowLossOptions;

/** Validates the options of `kdLoss` into a plan; throws typed errors naming the field. */
export function planKdLoss(options: KdLossOptions): RowLossPlan {
  return planRowLoss(options);
}

/**
 * The fused KD loss and its gradient w.r.t. the student logits in one submit. See docs/kernels.md
 * for the exact math. Resolves once the work is queued — and, with `check: 'await'` (default), once
 * the input flags were read back (throwing E_NON_FINITE / E_BAD_VALUE for bad inputs).
 */
export async function kdLoss(options: KdLossOptions): Promise<RowLossResult> {
  const plan = planKdLoss(options);
  return runRowLoss(plan, options.check);
}
