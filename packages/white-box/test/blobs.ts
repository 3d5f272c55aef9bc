import { constant, Rng } from '@distillery/core';
import { CrossEntropyLoss } from '@distillery/kernels';
import { AdamW, MlpClassifier } from '@distillery/nn';
import { WhiteBoxDistiller, type ClassificationData } from '../src/index.js';

export const FEATURES = 12;
export const CLASSES = 5;

/** Gaussian blobs: learnable, with overlap so the teacher's soft targets carry information. */
export function blobs(rows: number, seed: number): ClassificationData {
  const rng = new Rng(seed);
  const centres = Array.from({ length: CLASSES }, () => Array.from({ length: FEATURES }, () => rng.normal() * 1.5));
  const features = new Float32Array(rows * FEATURES);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    labels[r] = r % CLASSES;
    for (let f = 0; f < FEATURES; f++) features[r * FEATURES + f] = centres[labels[r]!]![f]! + rng.normal();
  }
  return { features, labels, rows, featureSize: FEATURES, classes: CLASSES };
}

export const train = blobs(512, 1);
export const test = blobs(500, 1);

export async function trainedTeacher(device: GPUDevice, seed = 3): Promise<MlpClassifier> {
  const model = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [64], classes: CLASSES, dropout: 0.1, seed });
  await new WhiteBoxDistiller({
    student: model,
    loss: new CrossEntropyLoss(),
    optimizer: new AdamW({ weightDecay: 0 }),
    train,
    batchSize: 64,
    epochs: 6,
    seed,
    schedules: { lr: constant(3e-3) },
  }).run();
  return model;
}
