/**
 * A few MLP distillation steps on seeded synthetic data: the page and Node run this same code, and
 * the browser test compares their losses step by step.
 */
import { constant } from '@distillery/core';
import { KdLoss } from '@distillery/kernels';
import { AdamW, MlpClassifier } from '@distillery/nn';
import { ModelTeacher, WhiteBoxDistiller, type ClassificationData } from '@distillery/white-box';
import { seededLogits } from './kernel-checks.js';

export interface TrainingStepsResult {
  losses: number[];
  milliseconds: number;
}

export function syntheticData(rows: number, featureSize: number, classes: number): ClassificationData {
  const features = seededLogits(5, rows * featureSize, 1);
  const labels = Int32Array.from({ length: rows }, (_, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (features[i * featureSize + c]! > features[i * featureSize + best]!) best = c;
    return best;
  });
  return { features, labels, rows, featureSize, classes };
}

/** `epochs` epochs of Hinton KD (T = 3, soft 0.8 / hard 0.2) from a seeded random teacher into a student. */
export async function runTrainingSteps(device: GPUDevice, { epochs = 2, rows = 256, batchSize = 64 } = {}): Promise<TrainingStepsResult> {
  const data = syntheticData(rows, 64, 10);
  const teacher = MlpClassifier.create(device, { inputSize: 64, hidden: [128], classes: 10, seed: 1 });
  const student = MlpClassifier.create(device, { inputSize: 64, hidden: [32], classes: 10, seed: 2 });
  const distiller = new WhiteBoxDistiller({
    teacher: new ModelTeacher(teacher, 'synthetic-teacher'),
    student,
    loss: new KdLoss({ divergence: 'forward-kl' }),
    optimizer: new AdamW({ weightDecay: 0 }),
    train: data,
    useLabels: true,
    batchSize,
    epochs,
    seed: 3,
    schedules: { lr: constant(3e-3), temperature: constant(3), softWeight: constant(0.8), hardWeight: constant(0.2) },
  });
  const losses: number[] = [];
  distiller.loop.on('step', (e) => losses.push(e.loss));
  const started = performance.now();
  await distiller.run({ resume: false });
  return { losses, milliseconds: performance.now() - started };
}
