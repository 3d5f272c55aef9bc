import type { Loss, LossInputs, LossOutput, LossTerm } from '@distillery/core';
import { CrossEntropyLoss } from '@distillery/kernels';
import { readFloat32, type GpuTensor } from '@distillery/webgpu';
import type { StepByStepBatch } from './batches.js';
import { IGNORE_INDEX } from './sequences.js';

/**
 * Cross-entropy over a step-by-step batch, reported per task. The batch's token weights make the
 * total L_label + λ·L_rationale; this splits it into the `label` and `rationale` terms (each as it
 * enters the total) at the batch's task boundary, so step events show both. `perRow` of each term
 * is the batch's whole per-position loss; the terms differ in which rows they sum.
 */
export class TaskCrossEntropyLoss implements Loss<GpuTensor> {
  readonly name = 'step-by-step-cross-entropy';
  readonly hyperDefaults = {};
  readonly #inner = new CrossEntropyLoss({ ignoreIndex: IGNORE_INDEX });

  constructor(private readonly currentBatch: () => StepByStepBatch) {}

  async compute(inputs: LossInputs<GpuTensor>): Promise<LossOutput<GpuTensor>> {
    const batch = this.currentBatch();
    const result = await this.#inner.compute({ ...inputs, hyper: { weight: 1 } });
    const perRow = result.terms.hard!.perRow;
    const boundary = batch.predictSequences * (batch.tokens.size / batch.sequences);
    let split: Promise<{ label: number; rationale: number }> | undefined;
    const sums = () =>
      (split ??= (async () => {
        await result.total(); // raises E_NON_FINITE with the row before any term is trusted
        const values = await readFloat32(perRow);
        let label = 0;
        let rationale = 0;
        for (let i = 0; i < values.length; i++) {
          if (i < boundary) label += values[i]!;
          else rationale += values[i]!;
        }
        return { label, rationale };
      })());
    const term = (key: 'label' | 'rationale'): LossTerm<GpuTensor> => ({ perRow, reduced: async () => (await sums())[key] });
    return {
      total: result.total,
      gradLogits: result.gradLogits,
      rows: result.rows,
      terms: batch.targetTokens.explain ? { label: term('label'), rationale: term('rationale') } : { label: term('label') },
    };
  }
}
