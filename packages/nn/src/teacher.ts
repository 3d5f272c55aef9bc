import type { Student, WhiteBoxTeacher } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';

/**
 * Serves a trained model as a white-box teacher: its eval-mode logits (no dropout, no jitter) are
 * the dense targets. The logits tensor belongs to the model and stays valid until its next
 * eval forward — one batch, which is what the training loop needs.
 */
export function asTeacher<TBatch>(model: Student<TBatch, GpuTensor>, options: { name?: string } = {}): WhiteBoxTeacher<TBatch, GpuTensor> {
  return {
    kind: 'white-box',
    name: options.name ?? model.name,
    vocabSize: model.vocabSize,
    async targets(batch) {
      return { kind: 'dense', logits: await model.forward(batch, { training: false }) };
    },
  };
}
