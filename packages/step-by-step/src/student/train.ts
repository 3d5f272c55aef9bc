import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cosine, Distiller, DistilleryError, warmup, type StepEvent } from '@distillery/core';
import { FileCheckpointStore, writeFileAtomic } from '@distillery/core/node';
import { AdamW, TransformerLm } from '@distillery/nn';
import { loadModel, saveModel } from '@distillery/nn/node';
import type { GpuTensor } from '@distillery/webgpu';
import * as z from 'zod/mini';
import type { StepByStepRecord } from '../dataset.js';
import type { TaskPreset } from '../presets.js';
import { StepByStepBatches, type StepByStepBatch, type TrainingMode, type TruncationStats } from './batches.js';
import { labelAccuracy, taskCrossEntropy, type LabelAccuracy, type TaskCrossEntropy } from './evaluate.js';
import { stepByStepTokenizer } from './sequences.js';
import { TaskCrossEntropyLoss } from './task-loss.js';

const int = z.number().check(z.int());

/** The `train` section of a step-by-step config: the student, its optimiser and the comparison. */
export const studentTrainingSchema = z.strictObject({
  /** `standard`: labels only (the baseline); `step-by-step`: L_label + λ·L_rationale. */
  modes: z._default(z.array(z.enum(['standard', 'step-by-step'])).check(z.minLength(1)), ['standard', 'step-by-step']),
  /** One run per mode and seed (the seed sets the student's initialisation, dropout and data order). */
  seeds: z._default(z.array(int.check(z.gte(0), z.lte(0xffffffff))).check(z.minLength(1)), [0, 1, 2]),
  /** λ, the weight of the rationale loss (the paper's default 1). */
  rationaleWeight: z._default(z.number().check(z.gte(0)), 1),
  /** Passes over the training rows; both modes take the same steps (records per step are equal). */
  epochs: z._default(int.check(z.positive()), 10),
  /** Records per step (a step-by-step batch holds each record's predict and explain rows). */
  batchSize: z._default(int.check(z.positive()), 16),
  lr: z._default(z.number().check(z.positive()), 2e-3),
  warmupSteps: z._default(int.check(z.gte(1)), 20),
  /** The cosine schedule ends at lr × this. */
  finalLrFraction: z._default(z.number().check(z.gte(0), z.lte(1)), 0.1),
  weightDecay: z._default(z.number().check(z.gte(0)), 0.01),
  clipNorm: z._default(z.number().check(z.gte(0)), 1),
  model: z.prefault(
    z.strictObject({
      context: z._default(int.check(z.gte(16)), 256),
      width: z._default(int.check(z.positive()), 64),
      layers: z._default(int.check(z.positive()), 2),
      heads: z._default(int.check(z.positive()), 4),
      mlpRatio: z._default(int.check(z.positive()), 4),
      dropout: z._default(z.number().check(z.gte(0), z.lt(1)), 0.1),
    }),
    {},
  ),
  evaluate: z.prefault(
    z.strictObject({
      /** Evaluate on the first `limit` test rows (default all). */
      limit: z.optional(int.check(z.positive())),
      /** Longest answer decoded, in characters. */
      maxTokens: z._default(int.check(z.positive()), 32),
      batchSize: z._default(int.check(z.positive()), 32),
    }),
    {},
  ),
  /** Checkpoint every this many steps (a killed run resumes from there). */
  checkpointEvery: z._default(int.check(z.positive()), 50),
});

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
  /** Greedy `predict:` accuracy on the test rows (against gold). */
  test: LabelAccuracy;
  /**
   * Teacher-forced CE of the test rows' labels in the form the student was trained on: the
   * teacher's parsed label when training used teacher labels (gold where the teacher's did not
   * parse), else gold. SVAMP's gold (`( 7.0 * 30.0 )`) and PaLM's (`(7 * 30)`) differ in form,
   * and a CE on the other form would mostly measure that.
   */
  testLabelCrossEntropy: TaskCrossEntropy;
  /** Teacher-forced CE of the teacher's rationales on the validation rows (what the explain task learns). */
  validationRationaleCrossEntropy?: TaskCrossEntropy;
  /** Training wall time, summed over the processes that trained it (a resumed run adds up). */
  seconds: number;
  /** Token positions the student processed (sequences × context), per second of training (this process's). */
  tokensPerSecond: number;
  /** Label-carrying positions per second. */
  targetTokensPerSecond: number;
  parameters: number;
  truncation: { predict: TruncationStats; explain: TruncationStats };
  /** Files of this run, relative to the output folder. */
  files: string[];
  /** What the evaluation figures were computed with: a saved run whose keys differ is re-evaluated from its model. */
  evaluationKeys: { test: string; crossEntropy: string };
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
  /** Which labels the training rows carry (the dataset's `labels` build option); default 'teacher'. */
  labels?: 'teacher' | 'gold';
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
  const s = o.settings;
  const keys = evaluationKeys(o);
  if (o.dir) {
    const done = await readFile(join(o.dir, RESULT_FILE), 'utf8').catch(() => undefined);
    if (done) {
      const saved = JSON.parse(done) as StudentRunResult;
      if (saved.evaluationKeys?.test === keys.test && saved.evaluationKeys.crossEntropy === keys.crossEntropy) return saved;
      const modelPath = join(o.dir, 'model.safetensors');
      if (
        await access(modelPath).then(
          () => true,
          () => false,
        )
      )
        return reevaluate(o, saved, modelPath, keys);
    }
  }
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
  // Training time and the running epoch's sums live in the checkpoint, so a resumed run reports
  // its whole training time and its exact last-epoch means.
  let earlierSeconds = 0;
  let started = performance.now();
  const elapsed = () => earlierSeconds + (performance.now() - started) / 1000;
  const epochSums = { epoch: -1, loss: 0, label: 0, rationale: 0, steps: 0 };
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
    checkpoint: o.dir
      ? { store: new FileCheckpointStore(join(o.dir, 'checkpoint.safetensors')), everySteps: s.checkpointEvery }
      : undefined,
    extraState: {
      save: () => ({ trainingSeconds: elapsed(), epochSums: { ...epochSums } }),
      load: (state) => {
        earlierSeconds = typeof state.trainingSeconds === 'number' ? state.trainingSeconds : 0;
        if (state.epochSums && typeof state.epochSums === 'object') Object.assign(epochSums, state.epochSums);
        started = performance.now();
      },
    },
  });
  loop.on('step', (e) => {
    if (e.epoch !== epochSums.epoch) Object.assign(epochSums, { epoch: e.epoch, loss: 0, label: 0, rationale: 0, steps: 0 });
    epochSums.loss += e.loss;
    epochSums.label += e.terms.label ?? 0;
    epochSums.rationale += e.terms.rationale ?? 0;
    epochSums.steps++;
    o.onStep?.(e);
  });
  const abort = () => loop.stop();
  o.signal?.addEventListener('abort', abort);
  started = performance.now();
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
  const thisProcess = (performance.now() - started) / 1000;
  const seconds = elapsed();
  if (summary.stopped) {
    student.release();
    throw new DistilleryError(
      'E_ABORTED',
      `training of ${o.mode} seed ${o.seed} stopped at step ${summary.steps}; rerun to resume from its checkpoint`,
      { step: summary.steps },
    );
  }
  const evaluation = await evaluateStudent(student, o, { test: true });
  const files: string[] = [];
  const result: StudentRunResult = {
    mode: o.mode,
    seed: o.seed,
    steps: summary.steps,
    finalLoss: epochSums.loss / epochSums.steps,
    finalTerms: {
      label: epochSums.label / epochSums.steps,
      ...(o.mode === 'step-by-step' ? { rationale: epochSums.rationale / epochSums.steps } : {}),
    },
    ...evaluation,
    seconds,
    tokensPerSecond: data.served.positions / thisProcess,
    targetTokensPerSecond: data.served.targetTokens / thisProcess,
    parameters: student.parameterCount,
    truncation: data.truncation,
    files,
    evaluationKeys: keys,
  };
  if (o.dir) {
    await saveModel(join(o.dir, 'model.safetensors'), student);
    files.push('model.safetensors', RESULT_FILE);
    await writeFileAtomic(join(o.dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
  }
  student.release();
  return result;
}

/** Bump when an evaluation's meaning changes, so saved runs are re-evaluated rather than mixed. */
const TEST_EVALUATION_VERSION = 1;
const CROSS_ENTROPY_VERSION = 2;

function evaluationKeys(o: TrainStudentOptions): StudentRunResult['evaluationKeys'] {
  const ids = o.test.map((r) => r.id).join('\n');
  const { maxTokens } = o.settings.evaluate;
  return {
    test: JSON.stringify({ v: TEST_EVALUATION_VERSION, maxTokens, rows: o.test.length, ids: fnv1a(ids) }),
    crossEntropy: JSON.stringify({
      v: CROSS_ENTROPY_VERSION,
      labels: o.labels ?? 'teacher',
      test: fnv1a(ids),
      validation: fnv1a(o.validation.map((r) => r.id).join('\n')),
    }),
  };
}

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

type Evaluation = Pick<StudentRunResult, 'testLabelCrossEntropy' | 'validationRationaleCrossEntropy'> & { test?: LabelAccuracy };

/** Accuracy (greedy decoding, the slow part: only when `test`) and the teacher-forced cross-entropies. */
async function evaluateStudent(
  student: TransformerLm,
  o: TrainStudentOptions,
  { test }: { test: boolean },
): Promise<Evaluation & { test: LabelAccuracy }>;
async function evaluateStudent(student: TransformerLm, o: TrainStudentOptions, { test }: { test: false }): Promise<Evaluation>;
async function evaluateStudent(student: TransformerLm, o: TrainStudentOptions, { test }: { test: boolean }): Promise<Evaluation> {
  const { batchSize, maxTokens } = o.settings.evaluate;
  const trainedForm = (o.labels ?? 'teacher') === 'teacher' ? o.test.map((r) => ({ ...r, label: r.teacher_label ?? r.label })) : o.test;
  const withRationale = o.validation.filter((r) => r.rationale.length > 0);
  return {
    ...(test ? { test: await labelAccuracy(student, o.test, o.preset, { maxTokens, batchSize }) } : {}),
    testLabelCrossEntropy: await taskCrossEntropy(student, trainedForm, 'predict', { batchSize }),
    validationRationaleCrossEntropy: withRationale.length
      ? await taskCrossEntropy(student, withRationale, 'explain', { batchSize })
      : undefined,
  };
}

/** A finished run evaluated with other settings: evaluate its saved model again, keep its training figures. */
async function reevaluate(
  o: TrainStudentOptions,
  saved: StudentRunResult,
  modelPath: string,
  keys: StudentRunResult['evaluationKeys'],
): Promise<StudentRunResult> {
  const model = await loadModel(o.device, modelPath);
  if (!(model instanceof TransformerLm)) {
    model.release();
    throw new DistilleryError('E_CORRUPT_FILE', `${modelPath} holds a ${model.name}, not the transformer student of this run`, {
      field: 'path',
      value: modelPath,
    });
  }
  try {
    const redoTest = saved.evaluationKeys?.test !== keys.test;
    const evaluation = await evaluateStudent(model, o, { test: redoTest });
    const result: StudentRunResult = { ...saved, ...evaluation, evaluationKeys: keys };
    if (!evaluation.validationRationaleCrossEntropy) delete result.validationRationaleCrossEntropy;
    await writeFileAtomic(join(o.dir!, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    model.release();
  }
}
