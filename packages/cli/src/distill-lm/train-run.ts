import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  constant,
  cosine,
  deriveSeed,
  Distiller,
  DistilleryError,
  warmup,
  type Loss,
  type StepEvent,
  type WhiteBoxTeacher,
} from '@distillery/core';
import { FileCheckpointStore, writeFileAtomic } from '@distillery/core/node';
import { CrossEntropyLoss, KdLoss } from '@distillery/kernels';
import { AdamW, asTeacher } from '@distillery/nn';
import { readModelState, saveModel } from '@distillery/nn/node';
import type { GpuTensor } from '@distillery/webgpu';
import { HiddenStateMatch, TokenWindows, type TokenCorpus } from '@distillery/white-box';
import type { DistillLmMethod, DistillLmSettings, StudentSize } from './config.js';
import { evaluateHeldOut, greedySample, type HeldOutMetrics } from './evaluate.js';
import type { LmKit, LmModel } from './kit.js';
import { FixedSteps, type WindowBatch } from './step-windows.js';

export interface RunResult {
  size: string;
  method: DistillLmMethod;
  seed: number;
  steps: number;
  parameters: number;
  heldOut: HeldOutMetrics;
  /** Mean training loss over the last tenth of the steps (the method's own loss: not comparable across methods). */
  finalLoss: number;
  /** Training wall time, summed over the processes that trained it (a resumed run adds up). */
  seconds: number;
  /** Training positions (sequences × context) per second of this process's training. */
  tokensPerSecond: number;
  /** Greedy continuation of the prompt. */
  sample: string;
  /** What the figures depend on: a saved run with another key is trained again. */
  key: string;
}

export interface RunContext {
  kit: LmKit;
  settings: DistillLmSettings;
  train: TokenCorpus;
  heldOut: TokenWindows;
  teacherArgmax: Int32Array;
  /** The offline top-k teacher (the kd-topk-cache method). */
  topkTeacher?: () => Promise<WhiteBoxTeacher<WindowBatch, GpuTensor>>;
}

export const RESULT_FILE = 'result.json';
export const MODEL_FILE = 'model.safetensors';
const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** The settings a run's result depends on. */
export function runKey(c: RunContext, size: StudentSize, method: DistillLmMethod, seed: number): string {
  const s = c.settings;
  const common = {
    v: 1,
    teacher: c.kit.teacherName,
    size,
    seed,
    steps: s.steps,
    sequences: s.sequences,
    context: s.context,
    optimizer: s.optimizer,
    corpus: s.corpus,
    evaluate: s.evaluate,
  };
  const extra =
    method === 'scratch'
      ? {}
      : method === 'kd-topk-cache'
        ? { kd: s.kd, topk: s.topk }
        : method === 'kd-hidden'
          ? { kd: s.kd, hidden: s.hidden }
          : { kd: s.kd };
  return JSON.stringify({ ...common, method, ...extra });
}

export async function readRunResult(dir: string, key: string): Promise<RunResult | undefined> {
  const text = await readFile(join(dir, RESULT_FILE), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const saved = JSON.parse(text) as RunResult;
  return saved.key === key ? saved : undefined;
}

/** The student a finished run saved. */
export async function loadRunStudent(kit: LmKit, dir: string): Promise<LmModel> {
  return kit.studentFromState(await readModelState(join(dir, MODEL_FILE)));
}

function lossFor(method: DistillLmMethod, s: DistillLmSettings): Loss<GpuTensor> {
  return method === 'scratch'
    ? new CrossEntropyLoss()
    : new KdLoss({ divergence: 'forward-kl', temperature: s.kd.temperature, hardWeight: s.kd.hardWeight });
}

/**
 * Trains one student of one size with one method and seed for exactly `steps` steps through core's
 * loop, evaluates it on the held-out windows against the teacher's arg-max, samples a story, and
 * writes model.safetensors and result.json into `dir`. A run with a matching result.json is read
 * back; a killed run resumes from its checkpoint.
 */
export async function trainRun(
  c: RunContext,
  size: StudentSize,
  method: DistillLmMethod,
  seed: number,
  dir: string,
  onStep?: (e: StepEvent) => void,
  signal?: AbortSignal,
): Promise<RunResult> {
  const key = runKey(c, size, method, seed);
  const done = await readRunResult(dir, key);
  if (done) return done;
  const s = c.settings;
  const { kit } = c;
  // The same initialisation for every method of a seed: only the training signal differs.
  const student = kit.createStudent(size, deriveSeed(seed, `student-${size.name}`));
  const windows = new TokenWindows(student.device, c.train, { context: s.context, sequences: s.sequences, seed });
  const data = new FixedSteps(windows, s.steps);
  let teacher: WhiteBoxTeacher<WindowBatch, GpuTensor> | undefined;
  let hiddenLoss: HiddenStateMatch | undefined;
  if (method === 'kd' || method === 'kd-hidden')
    teacher = asTeacher(kit.teacher, { name: kit.teacherName }) as WhiteBoxTeacher<WindowBatch, GpuTensor>;
  if (method === 'kd-topk-cache') {
    if (!c.topkTeacher)
      throw new DistilleryError('E_BAD_CONFIG', 'kd-topk-cache needs the top-k cache', { field: 'methods', value: method });
    teacher = await c.topkTeacher();
  }
  if (method === 'kd-hidden') {
    const h = s.hidden;
    hiddenLoss = new HiddenStateMatch({
      device: student.device,
      seed: deriveSeed(seed, 'projection'),
      pairs: [{ student: h.student, teacher: h.teacher, loss: h.loss, weight: h.weight, projection: true, name: 'hidden' }],
    });
  }
  const o = s.optimizer;
  const schedules = {
    lr: warmup({ steps: o.warmupSteps, then: cosine({ from: o.lr, to: o.lr * o.finalLrFraction }) }),
    ...(method === 'scratch'
      ? {}
      : { temperature: constant(s.kd.temperature), softWeight: constant(1), hardWeight: constant(s.kd.hardWeight) }),
  };
  let earlierSeconds = 0;
  let started = performance.now();
  const elapsed = () => earlierSeconds + (performance.now() - started) / 1000;
  const tail = { from: Math.max(1, Math.floor(s.steps * 0.9) + 1), sum: 0, n: 0 };
  const loop = new Distiller<WindowBatch, GpuTensor>({
    teacher,
    student,
    loss: lossFor(method, s),
    hiddenLoss,
    optimizer: new AdamW({ weightDecay: o.weightDecay, clipNorm: o.clipNorm }),
    data,
    labels: (b) => b.labels,
    epochs: 1,
    schedules,
    checkpoint: { store: new FileCheckpointStore(join(dir, CHECKPOINT_FILE)), everySteps: s.checkpointEvery },
    extraState: {
      save: () => ({ trainingSeconds: elapsed(), tail: { sum: tail.sum, n: tail.n } }),
      load: (state) => {
        earlierSeconds = typeof state.trainingSeconds === 'number' ? state.trainingSeconds : 0;
        const saved = state.tail as { sum?: number; n?: number } | undefined;
        tail.sum = saved?.sum ?? 0;
        tail.n = saved?.n ?? 0;
        started = performance.now();
      },
    },
  });
  let stepsThisProcess = 0;
  loop.on('step', (e) => {
    stepsThisProcess++;
    if (e.step >= tail.from) {
      tail.sum += e.loss;
      tail.n++;
    }
    onStep?.(e);
  });
  const abort = () => loop.stop();
  signal?.addEventListener('abort', abort);
  started = performance.now();
  let summary;
  try {
    summary = await loop.run({ resume: true });
  } catch (error) {
    student.release();
    throw error;
  } finally {
    signal?.removeEventListener('abort', abort);
    (teacher as { release?: () => void } | undefined)?.release?.();
  }
  const thisProcess = (performance.now() - started) / 1000;
  const seconds = elapsed();
  if (summary.stopped) {
    student.release();
    throw new DistilleryError(
      'E_ABORTED',
      `run ${size.name}/${method}/seed-${seed} stopped at step ${summary.steps}; rerun to resume from its checkpoint`,
      { step: summary.steps },
    );
  }
  const { metrics } = await evaluateHeldOut(student, c.heldOut, s.evaluate.sequences, c.teacherArgmax);
  const prompt = kit.encode(s.evaluate.prompt);
  const sampleIds = await greedySample(student, prompt, s.evaluate.sampleTokens, kit.eos);
  const result: RunResult = {
    size: size.name,
    method,
    seed,
    steps: summary.steps,
    parameters: student.parameterCount,
    heldOut: metrics,
    finalLoss: tail.n ? tail.sum / tail.n : Number.NaN,
    seconds,
    tokensPerSecond: stepsThisProcess > 0 ? (stepsThisProcess * s.sequences * s.context) / thisProcess : Number.NaN,
    sample: kit.decode([...prompt, ...sampleIds]),
    key,
  };
  await saveModel(join(dir, MODEL_FILE), student);
  await writeFileAtomic(join(dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
  student.release();
  hiddenLoss?.release();
  return result;
}
