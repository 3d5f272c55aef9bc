import {
  Distiller,
  type CheckpointStore,
  type TrainingCallback,
  type HiddenLoss,
  type Loss,
  type Optimizer,
  type RunSummary,
  type SchedulerLike,
  type Student,
  type WhiteBoxTeacher,
} from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import type { TransferBatch } from './batch.js';
import { ShuffledBatches, type ClassificationData } from './data.js';
import { CachedTeacher } from './teachers/cached-teacher.js';
import { evaluateClassifier, deviceOf, type ClassifierMetrics } from './evaluate.js';

export interface WhiteBoxDistillerOptions {
  /** Absent: supervised training of the student on hard labels (the scratch baseline). */
  teacher?: WhiteBoxTeacher<TransferBatch, GpuTensor>;
  student: Student<TransferBatch, GpuTensor>;
  /** A fused loss on logits (e.g. `KdLoss` from @distillery/kernels). */
  loss: Loss<GpuTensor>;
  /** Hidden-state matching added to `loss` (e.g. a `HiddenStateMatch`); its terms appear in step events by name. */
  hiddenLoss?: HiddenLoss<GpuTensor>;
  optimizer: Optimizer<GpuTensor>;
  /** The transfer set. Without labels (or with `useLabels: false`) only the soft term trains. */
  train: ClassificationData;
  /** Held-out data evaluated after every epoch. */
  validation?: ClassificationData;
  useLabels?: boolean;
  batchSize: number;
  epochs: number;
  seed: number;
  /** `lr` plus the loss's hyper-parameters (temperature, softWeight, hardWeight...). */
  schedules: { lr: SchedulerLike } & Record<string, SchedulerLike>;
  checkpoint?: { store: CheckpointStore; everySteps?: number };
  /** Hooks awaited during the run (early stopping, logs...); see core's `TrainingCallback`. */
  callbacks?: readonly TrainingCallback[];
}

/**
 * The logit distiller: core's `Distiller` loop over an in-memory transfer set, with per-epoch
 * evaluation (accuracy, cross-entropy, agreement with the teacher's top-1).
 */
export class WhiteBoxDistiller {
  readonly loop: Distiller<TransferBatch, GpuTensor>;
  readonly #options: WhiteBoxDistillerOptions;

  constructor(options: WhiteBoxDistillerOptions) {
    this.#options = options;
    const device = deviceOf(options.student);
    const useLabels = (options.useLabels ?? true) && options.train.labels !== undefined;
    const data = new ShuffledBatches(device, options.train, options.batchSize, options.seed, useLabels);
    this.loop = new Distiller<TransferBatch, GpuTensor>({
      teacher: options.teacher,
      student: options.student,
      loss: options.loss,
      hiddenLoss: options.hiddenLoss,
      optimizer: options.optimizer,
      data,
      labels: (batch) => batch.labels,
      epochs: options.epochs,
      schedules: options.schedules,
      checkpoint: options.checkpoint,
      callbacks: options.callbacks,
      evaluate: options.validation ? async () => this.#metricsRecord(await this.evaluate(options.validation!)) : undefined,
    });
  }

  #metricsRecord(m: ClassifierMetrics): Record<string, number> {
    const record: Record<string, number> = { accuracy: m.accuracy, error: m.error, errors: m.errors, crossEntropy: m.crossEntropy };
    if (m.teacherAgreement !== undefined) record.teacherAgreement = m.teacherAgreement;
    return record;
  }

  /** Metrics on held-out data; no `teacherAgreement` with a `CachedTeacher` (its rows are the transfer set's, not these). */
  evaluate(data: ClassificationData): Promise<ClassifierMetrics> {
    const { teacher } = this.#options;
    return evaluateClassifier(this.#options.student, data, { teacher: teacher instanceof CachedTeacher ? undefined : teacher });
  }

  run(options?: { resume?: boolean }): Promise<RunSummary> {
    return this.loop.run(options);
  }

  stop(): void {
    this.loop.stop();
  }
}
