import type { Student, TargetsOptions, TeacherTargets, WhiteBoxTeacher } from '@distillery/core';
import { evalModeTargets } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';

/**
 * Any trained model with logits, used as a teacher: forward in evaluation mode (no dropout, no
 * jitter). When the model exposes hidden states, `targets(batch, { hidden })` returns them too.
 */
export class ModelTeacher<TBatch> implements WhiteBoxTeacher<TBatch, GpuTensor> {
  readonly kind = 'white-box' as const;
  readonly vocabSize: number;

  constructor(
    readonly model: Student<TBatch, GpuTensor>,
    readonly name = `model:${model.name}`,
  ) {
    this.vocabSize = model.vocabSize;
  }

  hiddenStateWidths(): Readonly<Record<string, number>> {
    return this.model.hiddenStateWidths?.() ?? {};
  }

  targets(batch: TBatch, options?: TargetsOptions): Promise<TeacherTargets<GpuTensor>> {
    return evalModeTargets(this.model, batch, options, this.name);
  }
}
