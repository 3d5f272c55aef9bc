import type { Student, TeacherTargets, WhiteBoxTeacher } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';

/** Any trained model with logits, used as a teacher: forward in evaluation mode (no dropout, no jitter). */
export class ModelTeacher<TBatch> implements WhiteBoxTeacher<TBatch, GpuTensor> {
  readonly kind = 'white-box' as const;
  readonly vocabSize: number;

  constructor(readonly model: Student<TBatch, GpuTensor>, readonly name = `model:${model.name}`) {
    this.vocabSize = model.vocabSize;
  }

  async targets(batch: TBatch): Promise<TeacherTargets<GpuTensor>> {
    return { kind: 'dense', logits: await this.model.forward(batch, { training: false }) };
  }
}
