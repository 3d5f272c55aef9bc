import {
  badValue,
  type CheckpointStore,
  type Loss,
  type Optimizer,
  type RunSummary,
  type SchedulerLike,
  type Student,
  type TrainingCallback,
  type WhiteBoxTeacher,
} from '@distillery/core';
import { CrossEntropyLoss, KdLoss, type KdLossConfig } from '@distillery/kernels';
import { AdamW } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';
import type { TransferBatch } from './batch.js';
import type { ClassificationData } from './data.js';
import { WhiteBoxDistiller } from './distiller.js';
import type { ClassifierMetrics } from './evaluate.js';

/** Defaults of `distill()`, written down once: Hinton et al.'s recipe (both terms when labels exist). */
export const DISTILL_DEFAULTS = Object.freeze({
  temperature: 4,
  softWeight: 1,
  /** Weight of the hard-label cross-entropy when the transfer set has labels (0 without labels). */
  hardWeight: 0.1,
  lr: 1e-3,
  epochs: 10,
  batchSize: 64,
  seed: 0,
  divergence: 'forward-kl' as const,
});

export interface DistillOptions {
  /** Absent: plain supervised training of the student (the from-scratch baseline). */
  teacher?: WhiteBoxTeacher<TransferBatch, GpuTensor>;
  student: Student<TransferBatch, GpuTensor>;
  data: { train: ClassificationData; validation?: ClassificationData };
  /** Default 4. A number or a schedule. */
  temperature?: SchedulerLike;
  /** Default 1. */
  softWeight?: SchedulerLike;
  /** Default 0.1 when `data.train` has labels and `useLabels` is not false, else 0. */
  hardWeight?: SchedulerLike;
  /** Default 1e-3 (AdamW without weight decay). */
  lr?: SchedulerLike;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  /** Default true: train on `data.train.labels` when they exist. */
  useLabels?: boolean;
  /** Default `new AdamW({ weightDecay: 0 })`. */
  optimizer?: Optimizer<GpuTensor>;
  /** Default a forward-KL `KdLoss` (a `CrossEntropyLoss` without a teacher); other fixed KD settings. */
  loss?: Loss<GpuTensor> | Pick<KdLossConfig, 'divergence' | 'beta' | 'scaleByTemperatureSquared'>;
  /** Where checkpoints go (`FileCheckpointStore` from `@distillery/core/node`): rerunning resumes. */
  checkpoint?: CheckpointStore | { store: CheckpointStore; everySteps?: number };
  callbacks?: readonly TrainingCallback[];
  /** Default true: continue from `checkpoint` when it holds one. */
  resume?: boolean;
}

export interface DistillResult {
  summary: RunSummary;
  /** The student evaluated on `data.validation` after training (absent without validation data). */
  validation?: ClassifierMetrics;
  /** The loop, for its events (`distiller.loop.on('step', ...)` before `run`) and `evaluate`. */
  distiller: WhiteBoxDistiller;
}

function isLoss(value: unknown): value is Loss<GpuTensor> {
  return typeof value === 'object' && value !== null && typeof (value as Loss<GpuTensor>).compute === 'function';
}

/**
 * One call for the common case (Keras' `Distiller`): a teacher, a student and labelled or
 * unlabelled data in, a trained and evaluated student out. The loss is Hinton's: softWeight ·
 * T² · KL(teacher_T ‖ student_T) + hardWeight · CE(labels), both terms on when labels exist.
 * Everything else is `WhiteBoxDistiller`'s, which this builds (use it directly for more control).
 */
export async function distill(options: DistillOptions): Promise<DistillResult> {
  const d = DISTILL_DEFAULTS;
  const { teacher, student, data } = options;
  if (!data?.train) throw badValue('data.train', data?.train, 'a ClassificationData (features, labels?, rows, featureSize, classes)');
  const labelled = (options.useLabels ?? true) && data.train.labels !== undefined;
  const loss = isLoss(options.loss)
    ? options.loss
    : teacher
      ? new KdLoss({ divergence: d.divergence, ...options.loss })
      : new CrossEntropyLoss();
  const schedules: { lr: SchedulerLike } & Record<string, SchedulerLike> = teacher
    ? {
        lr: options.lr ?? d.lr,
        temperature: options.temperature ?? d.temperature,
        softWeight: options.softWeight ?? d.softWeight,
        hardWeight: options.hardWeight ?? (labelled ? d.hardWeight : 0),
      }
    : { lr: options.lr ?? d.lr };
  if (!teacher && !labelled)
    throw badValue('teacher', undefined, 'a teacher (the training data has no labels, so there is nothing else to learn from)');
  const checkpoint = options.checkpoint && ('store' in options.checkpoint ? options.checkpoint : { store: options.checkpoint });
  const distiller = new WhiteBoxDistiller({
    teacher,
    student,
    loss,
    optimizer: options.optimizer ?? new AdamW({ weightDecay: 0 }),
    train: data.train,
    validation: data.validation,
    useLabels: labelled,
    batchSize: options.batchSize ?? d.batchSize,
    epochs: options.epochs ?? d.epochs,
    seed: options.seed ?? d.seed,
    schedules,
    checkpoint,
    callbacks: options.callbacks,
  });
  const summary = await distiller.run({ resume: options.resume ?? true });
  const validation = data.validation ? await distiller.evaluate(data.validation) : undefined;
  return { summary, distiller, ...(validation ? { validation } : {}) };
}
