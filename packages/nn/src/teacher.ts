import { DistilleryError, type DenseTargets, type Student, type TargetsOptions, type WhiteBoxTeacher } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';

/**
 * Serves a trained model as a white-box teacher: its eval-mode logits (no dropout, no jitter) are
 * the dense targets, with the eval-mode hidden states asked for in `options.hidden` (when the
 * model exposes hidden states). The tensors belong to the model and stay valid until its next
 * eval forward — one batch, which is what the training loop needs.
 */
export function asTeacher<TBatch>(model: Student<TBatch, GpuTensor>, options: { name?: string } = {}): WhiteBoxTeacher<TBatch, GpuTensor> {
  const name = options.name ?? model.name;
  return {
    kind: 'white-box',
    name,
    vocabSize: model.vocabSize,
    ...(model.hiddenStateWidths ? { hiddenStateWidths: () => model.hiddenStateWidths!() } : {}),
    targets: (batch, request) => evalModeTargets(model, batch, request, name),
  };
}

/** Eval-mode logits of `model` as dense targets, plus the hidden states `request.hidden` names. */
export async function evalModeTargets<TBatch>(
  model: Student<TBatch, GpuTensor>,
  batch: TBatch,
  request: TargetsOptions = {},
  teacherName = model.name,
): Promise<DenseTargets<GpuTensor>> {
  const logits = await model.forward(batch, { training: false });
  const names = request.hidden ?? [];
  if (names.length === 0) return { kind: 'dense', logits };
  if (!model.hiddenStates) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `teacher ${teacherName} (a ${model.name}) exposes no hidden states; asked for ${names.join(', ')}`,
      { field: 'hidden', value: [...names] },
    );
  }
  return { kind: 'dense', logits, hidden: model.hiddenStates(names, { training: false }) };
}
