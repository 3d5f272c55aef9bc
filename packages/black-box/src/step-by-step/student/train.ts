import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cosine, Distiller, DistilleryError, warmup, type StepEvent } from '@distillery/core';
import { FileCheckpointStore, writeFileAtomic } from '@distillery/core/node';
import { AdamW, TransformerLm } from '@distillery/nn';
import { saveModel } from '@distillery/nn/node';
import type { GpuTensor } from '@distillery/webgpu';
import { z } from 'zod';
import type { StepByStepRecord } from '../dataset.js';
import type { TaskPreset } from '../presets.js';
import { StepByStepBatches, type StepByStepBatch, type TrainingMode, type TruncationStats } from './batches.js';
import { labelAccuracy, taskCrossEntropy, type LabelAccuracy, type TaskCrossEntropy } from './evaluate.js';
import { stepByStepTokenizer } from './sequences.js';
import { TaskCrossEntropyLoss } from './task-loss.js';

const int = z.number().int();

/** The `train` section of a step-by-step config: the student, its optimiser and the comparison. */
export const studentTrainingSchema = z
  .object({
    /** `standard`: labels only (the baseline); `step-by-step`: L_label + λ·L_rationale. */
    modes: z.array(z.enum(['standard', 'step-by-step'])).min(1).default(['standard', 'step-by-step']),
    /** One run per mode and seed (the seed sets the student's initialisation, dropout and data order). */
    seeds: z.array(int.min(0).max(0xffffffff)).min(1).default([0, 1, 2]),
    /** λ, the weight of the rationale loss (the paper's default 1). */
    rationaleWeight: z.number().min(0).default(1),
    /** Passes over the training rows; both modes take the same steps (records per step are equal). */
    epochs: int.positive().default(10),
    /** Records per step (a step-by-step batch holds each record's predict and explain rows). */
    batchSize: int.positive().default(16),
    lr: z.number().positive().default(2e-3),
    warmupSteps: int.min(1).default(20),
    /** The cosine schedule ends at lr × this. */
    finalLrFraction: z.number().min(0).max(1).default(0.1),
    weightDecay: z.number().min(0).default(0.01),
    clipNorm: z.number().min(0).default(1),
    model: z
      .object({
        context: int.min(16).default(256),
        width: int.positive().default(64),
        layers: int.positive().default(2),
        heads: int.positive().default(4),
        mlpRatio: int.positive().default(4),
        dropout: z.number().min(0).lt(1).default(0.1),
      })
      .strict()
      .prefault({}),
    evaluate: z
      .object({
        /** Evaluate on the first `limit` test rows (default all). */
        limit: int.positive().optional(),
        /** Longest answer decoded, in characters. */
        maxTokens: int.positive().default(32),
        batchSize: int.positive().default(32),
      })
      .strict()
      .prefault({}),
    /** Checkpoint every this many steps (a killed run resumes from there). */
    checkpointEvery: int.positive().default(50),
  })
  .strict();

export type StudentTrainingConfig = z.input<typeof studentTrainingSchema>;
export type StudentTrainingSettings = z.output<typeof studentTrainingSchema>;

export interface StudentRunResult {
  mode: TrainingMode;
  seed: number;
  steps: number;
  /** Mean training loss over the last epoch. */
  finalLoss: number;
  /** Mean label term and (step-by-step only) λ-weighted rationale term over the last epoch. */
  finalTerms: { label: number; rationale?: number };
  /** Greedy `predict:` accuracy on the test rows. */
  test: LabelAccuracy;
  /** Teacher-forced CE of the gold label on the test rows. */
  testLabelCrossEntropy: TaskCrossEntropy;
  /** Teacher-forced CE of the teacher's rationales on the validation rows (what the explain task learns). */
  validationRationaleCrossEntropy?: TaskCrossEntropy;
  seconds: number;
  /** Token positions the student processed (sequences × context), per second of training. */
  tokensPerSecond: number;
  /** Label-carrying positions per second. */
  targetTokensPerSecond: number;
  parameters: number;
  truncation: { predict: TruncationStats; explain: TruncationStats };
  /** Files of this run, relative to the output folder. */
  files: string[];
}

export interface TrainStudentOptions {
  device: GPUDevice;
  mode: TrainingMode;
  seed: number;
  settings: StudentTrainingSettings;
  preset: TaskPreset;
  train: readonly StepByStepRecord[];
  validation: readonly StepByStepRecord[];
  test: readonly StepByStepRecord[];
  /** Folder of this run: checkpoint, final model, result.json. Resumes from its checkpoint. */
  dir?: string;
  onStep?: (event: StepEvent) => void;
  signal?: AbortSignal;
}

const RESULT_FILE = 'result.json';

/**
 * Trains one from-scratch `TransformerLm` student with core's `Distiller` (CrossEntropyLoss with
 * token weights: L_label + λ·L_rationale, or L_label alone), then evaluates it. A run whose
 * result.json exists is not trained again; a killed run resumes from its last checkpoint.
 */
export async function trainStudent(o: TrainStudentOptions): Promise<StudentRunResult> {
  if (o.dir) {
    const done = await readFile(join(o.dir, RESULT_FILE), 'utf8').catch(() => undefined);
    if (done) return JSON.parse(done) as StudentRunResult;
  }
  const s = o.settings;
  // The vocabulary comes from every split so the tokenizer is the same whichever rows a run sees.
  const tokenizer = stepByStepTokenizer([...o.train, ...o.validation, ...o.test]);
  const student = TransformerLm.create(o.device, { tokenizer: tokenizer.toJSON(), ...s.model, seed: o.seed });
  const data = new StepByStepBatches({
    device: o.device,
    tokenizer,
    rows: o.train,
    mode: o.mode,
    batchSize: s.batchSize,
    context: s.model.context,
    rationaleWeight: s.rationaleWeight,
    seed: o.seed,
  });
  const loss = new TaskCrossEntropyLoss(() => data.current);
  const optimizer = new AdamW({ weightDecay: s.weightDecay, clipNorm: s.clipNorm });
  const lr = warmup({ steps: s.warmupSteps, then: cosine({ from: s.lr, to: s.lr * s.finalLrFraction }) });
  const loop = new Distiller<StepByStepBatch, GpuTensor>({
    student,
    loss,
    optimizer,
    data,
    labels: (b) => b.labels,
    rowWeights: (b) => b.rowWeights,
    // The weights already hold each task's 1 / (its target tokens): the weighted sum is the loss.
    normalizer: () => 1,
    epochs: s.epochs,
    schedules: { lr },
    checkpoint: o.dir ? { store: new FileCheckpointStore(join(o.dir, 'checkpoint.safetensors')), everySteps: s.checkpointEvery } : undefined,
  });
  const lastEpoch = { epoch: -1, loss: 0, label: 0, rationale: 0, steps: 0 };
  loop.on('step', (e) => {
    if (e.epoch !== lastEpoch.epoch) Object.assign(lastEpoch, { epoch: e.epoch, loss: 0, label: 0, rationale: 0, steps: 0 });
    lastEpoch.loss += e.loss;
    lastEpoch.label += e.terms.label ?? 0;
    lastEpoch.rationale += e.terms.rationale ?? 0;
    lastEpoch.steps++;
    o.onStep?.(e);
  });
  const abort = () => loop.stop();
  o.signal?.addEventListener('abort', abort);
  const started = performance.now();
  let summary;
  try {
    summary = await loop.run({ resume: true });
  } catch (error) {
    student.release();
    throw error;
  } finally {
    o.signal?.removeEventListener('abort', abort);
    data.release();
  }
  const seconds = (performance.now() - started) / 1000;
  if (summary.stopped) {
    student.release();
    throw new DistilleryError('E_ABORTED', `training of ${o.mode} seed ${o.seed} stopped at step ${summary.steps}; rerun to resume from its checkpoint`, { step: summary.steps });
  }
  const test = await labelAccuracy(student, o.test, o.preset, { maxTokens: s.evaluate.maxTokens, batchSize: s.evaluate.batchSize });
  const testLabelCrossEntropy = await taskCrossEntropy(student, o.test, 'predict', { batchSize: s.evaluate.batchSize });
  const withRationale = o.validation.filter((r) => r.rationale.length > 0);
  const validationRationaleCrossEntropy = withRationale.length ? await taskCrossEntropy(student, withRationale, 'explain', { batchSize: s.evaluate.batchSize }) : undefined;
  const files: string[] = [];
  const result: StudentRunResult = {
    mode: o.mode,
    seed: o.seed,
    steps: summary.steps,
    // A run resumed in its last epoch averages only the steps this process trained.
    finalLoss: lastEpoch.steps ? lastEpoch.loss / lastEpoch.steps : summary.lastLoss,
    finalTerms: {
      label: lastEpoch.label / Math.max(1, lastEpoch.steps),
      ...(o.mode === 'step-by-step' ? { rationale: lastEpoch.rationale / Math.max(1, lastEpoch.steps) } : {}),
    },
    test,
    testLabelCrossEntropy,
    validationRationaleCrossEntropy,
    seconds,
    tokensPerSecond: data.served.positions / seconds,
    targetTokensPerSecond: data.served.targetTokens / seconds,
    parameters: student.parameterCount,
    truncation: data.truncation,
    files,
  };
  if (o.dir) {
    await saveModel(join(o.dir, 'model.safetensors'), student);
    files.push('model.safetensors', RESULT_FILE);
    await writeFileAtomic(join(o.dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
  }
  student.release();
  return result;
}
