import { DistilleryError, type Student, type WhiteBoxTeacher } from '@distillery/core';
import { readFloat32, type GpuTensor } from '@distillery/webgpu';
import type { TransferBatch } from './batch.js';
import { releaseBatch, uploadBatch, type ClassificationData } from './data.js';
import { argmaxRow, crossEntropyRow } from '@distillery/nn';

export interface ClassifierMetrics {
  /** Fraction of rows whose arg-max equals the label. */
  accuracy: number;
  /** 1 − accuracy. */
  error: number;
  /** Number of misclassified rows. */
  errors: number;
  /** Mean cross-entropy of the labels at T = 1 (nats). */
  crossEntropy: number;
  /** Fraction of rows where the student's arg-max equals the teacher's (when a teacher is given). */
  teacherAgreement?: number;
  rows: number;
}

/** Evaluation-mode metrics of a classifier on labelled data (logits read back; exact float64 metrics). */
export async function evaluateClassifier(
  model: Student<TransferBatch, GpuTensor>,
  data: ClassificationData,
  options: { batchSize?: number; teacher?: WhiteBoxTeacher<TransferBatch, GpuTensor> } = {},
): Promise<ClassifierMetrics> {
  const batchSize = options.batchSize ?? 500;
  const classes = data.classes;
  let correct = 0;
  let agree = 0;
  let nll = 0;
  const device = deviceOf(model);
  for (let start = 0; start < data.rows; start += batchSize) {
    const ids = Uint32Array.from({ length: Math.min(batchSize, data.rows - start) }, (_, i) => start + i);
    const batch = uploadBatch(device, data, ids, false);
    const logits = await readFloat32(await model.forward(batch, { training: false }));
    const teacherLogits = options.teacher ? await teacherArgmaxLogits(options.teacher, batch) : undefined;
    for (let r = 0; r < ids.length; r++) {
      const y = data.labels![ids[r]!]!;
      const pred = argmaxRow(logits, r * classes, classes);
      if (pred === y) correct++;
      if (teacherLogits && pred === argmaxRow(teacherLogits, r * classes, classes)) agree++;
      nll += crossEntropyRow(logits, r * classes, classes, y);
    }
    releaseBatch(batch);
  }
  const accuracy = correct / data.rows;
  return {
    accuracy,
    error: 1 - accuracy,
    errors: data.rows - correct,
    crossEntropy: nll / data.rows,
    // Absent rather than undefined: printed and spread metrics then carry no `teacherAgreement NaN`.
    ...(options.teacher ? { teacherAgreement: agree / data.rows } : {}),
    rows: data.rows,
  };
}

async function teacherArgmaxLogits(
  teacher: WhiteBoxTeacher<TransferBatch, GpuTensor>,
  batch: TransferBatch,
): Promise<Float32Array | undefined> {
  const targets = await teacher.targets(batch);
  return targets.kind === 'dense' ? readFloat32(targets.logits) : undefined;
}

/** The device a model's parameters live on. */
export function deviceOf(model: Student<unknown, GpuTensor>): GPUDevice {
  const first = model.parameters()[0];
  if (!first) throw new DistilleryError('E_BAD_VALUE', `model ${model.name} has no parameters`, { field: 'model' });
  return first.value.device;
}
