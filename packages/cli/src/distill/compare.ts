import { join } from 'node:path';
import { badValue, parseConfig, pluginName, type PluginSpec } from '@distillery/core';
import { meanStd } from '../stats.js';
import { distillConfigSchema, type DistillConfig } from './config.js';
import { comparedTeacher, dataKind, lmTeacherSettings, lmTraining, textComparison, watchedMetrics } from './config-checks.js';
import { resolveRunDir, runDistillConfig, type DistillRunOptions, type DistillRunResult } from './run.js';

/** The models of a comparison; the baselines are there when `compare` asks for them. */
export type ComparedModel = 'teacher' | 'scratch' | 'distilled' | 'distilledUnlabelled';

export interface ComparedModelResult {
  /** Validation error per seed (fraction). */
  testError: number[];
  errors: number[];
  /** Training seconds per seed in this invocation (a finished run reported again took none). */
  seconds: number[];
  mean: number;
  std: number;
}

export interface ComparisonResult {
  adapter: string;
  seeds: number[];
  /** Rows the student trains on and rows it is tested on. */
  split: { train: number; test: number };
  /** One line per model saying how it was set up. */
  setup: Partial<Record<ComparedModel, string>>;
  models: { teacher: ComparedModelResult; distilled: ComparedModelResult } & Partial<
    Record<'scratch' | 'distilledUnlabelled', ComparedModelResult>
  >;
  /** Per-seed scratch − distilled test error (positive: distillation helped); with a scratch baseline. */
  improvement?: { mean: number; std: number; seedsImproved: number };
  /**
   * The share of the teacher–scratch gap the distilled student closes, (scratch − distilled) /
   * (scratch − teacher): per seed, and for the means (Hinton et al.'s MNIST: (146 − 74) / (146 − 67) = 91 %).
   * Null where the teacher was no better than the scratch student (no gap to recover).
   */
  recovered?: { perSeed: (number | null)[]; ofMeans: number | null };
  /** The comparison's run folder: one `seed-N/{distilled,scratch,no-labels}` run folder per seed and model. */
  runDir: string;
}

/** A model of a language-model comparison: validation metrics per seed (lower is better). */
export interface ComparedLmModelResult {
  /** Validation nats/token per seed: the compared metric. */
  crossEntropy: number[];
  perplexity: number[];
  bitsPerToken: number[];
  /** Training seconds per seed in this invocation (0 for the teacher, which is not trained). */
  seconds: number[];
  /** Of crossEntropy. */
  mean: number;
  std: number;
}

/** `compare` on text data: the teacher's, the distilled and the from-scratch student's validation nats/token. */
export interface LmComparisonResult {
  kind: 'text';
  adapter: string;
  seeds: number[];
  /** Documents the student trains on and documents it is validated on. */
  split: { train: number; test: number };
  /** Tokens of those documents (the student's tokenizer, BOS first). */
  tokens: { train: number; validation: number };
  setup: Partial<Record<'teacher' | 'scratch' | 'distilled', string>>;
  models: { teacher: ComparedLmModelResult; distilled: ComparedLmModelResult; scratch?: ComparedLmModelResult };
  /** Per-seed scratch − distilled nats/token (positive: distillation helped); with a scratch baseline. */
  improvement?: { mean: number; std: number; seedsImproved: number };
  /** (scratch − distilled) / (scratch − teacher) in nats/token, per seed and for the means; null where the teacher was no better. */
  recovered?: { perSeed: (number | null)[]; ofMeans: number | null };
  /** One `seed-N/{distilled,scratch}` run folder per seed and model. */
  runDir: string;
}

/** A text comparison (nats/token), not a classifier's (test error). */
export const isLmComparison = (result: ComparisonResult | LmComparisonResult): result is LmComparisonResult => 'kind' in result;

/** (scratch − distilled) / (scratch − teacher), or null when the teacher did not beat the scratch student. */
export function recoveredFraction(teacher: number, scratch: number, distilled: number): number | null {
  return scratch > teacher ? (scratch - distilled) / (scratch - teacher) : null;
}

/**
 * Distillation against the scratch baseline from per-seed values of a lower-is-better metric (test
 * error, nats/token): the per-seed improvement and the share of the teacher–scratch gap recovered.
 */
function gapClosed(teacher: readonly number[], scratch: readonly number[], distilled: readonly number[]) {
  const diffs = scratch.map((s, i) => s - distilled[i]!);
  const { mean, std } = meanStd(diffs);
  return {
    improvement: { mean, std, seedsImproved: diffs.filter((x) => x > 0).length },
    recovered: {
      perSeed: teacher.map((t, i) => recoveredFraction(t, scratch[i]!, distilled[i]!)),
      ofMeans: recoveredFraction(meanStd(teacher).mean, meanStd(scratch).mean, meanStd(distilled).mean),
    },
  };
}

/** `name(key value, …)` for a plugin spec: the table's setup column. */
export function describeSpec(spec: PluginSpec): string {
  if (typeof spec === 'string') return spec;
  const { name, ...settings } = spec;
  const parts = Object.entries(settings).map(([key, value]) => {
    if (Array.isArray(value)) return `${key} ${value.join('-')}`;
    if (value && typeof value === 'object') return `${key} ${describeSpec(value as PluginSpec)}`;
    return `${key} ${String(value)}`;
  });
  return parts.length ? `${name}(${parts.join(', ')})` : name;
}

const scheduleText = (value: DistillConfig['loss']['temperature'] | undefined) =>
  value === undefined ? 'default' : typeof value === 'number' ? String(value) : describeSpec(value);

/** A comparison's run of `config` at `seed`: its own folder `seed-N/<folder>` under the comparison's (a rerun resumes it). */
const runCompared = (config: DistillConfig, seed: number, folder: string, configPath: string, options: DistillRunOptions, runDir: string) =>
  runDistillConfig({ ...config, seed }, configPath, { ...options, comparison: true, output: join(runDir, `seed-${seed}`, folder) });

/** The setup column of the distilled student: the student and the loss's schedules. */
const distilledSetup = ({ student, loss }: DistillConfig) =>
  `${describeSpec(student)}; T = ${scheduleText(loss.temperature)}, soft ${scheduleText(loss.softWeight)} + hard ${scheduleText(loss.hardWeight)}`;

/** The soft-targets-only baseline of a comparison: no labels, no hard term. */
const unlabelledConfig = (base: DistillConfig, teacher: PluginSpec): DistillConfig => ({
  ...base,
  teacher,
  data: { ...base.data, useLabels: false },
  loss: { ...base.loss, hardWeight: 0 },
});

/**
 * Runs a config's distillation once per seed of its `compare` section, beside the baselines it
 * names (the student from scratch, the student distilled without labels), each in its own run
 * folder under the comparison's (so a rerun resumes every one of them), and gathers the teacher's,
 * the baselines' and the distilled student's validation errors: `distillery demo`'s table.
 */
export async function runDistillComparison(
  raw: unknown,
  configPath: string,
  options: DistillRunOptions,
): Promise<ComparisonResult | LmComparisonResult> {
  const config = parseConfig(distillConfigSchema, raw);
  const { compare, ...base } = config;
  if (!compare) throw badValue('compare', undefined, '{ "seeds": [...] }: the seeds to compare over');
  if (dataKind(base) === 'text') return runLmComparison(config, configPath, options);
  if (!base.teacher) throw badValue('teacher', undefined, 'a teacher to distil from (the comparison is teacher vs scratch vs distilled)');
  if (!base.data.validation) throw badValue('data.validation', undefined, 'held-out data: the comparison reports validation errors');
  // Before the first run: what would stop the comparison half-way (after minutes of training).
  comparedTeacher(base.teacher);
  const unlabelledBaseline = compare.unlabelled ?? true;
  const configs = { distilled: base, scratch: { ...base, teacher: undefined }, unlabelled: unlabelledConfig(base, base.teacher) };
  watchedMetrics(configs.distilled);
  if (compare.scratch) watchedMetrics(configs.scratch);
  if (unlabelledBaseline) watchedMetrics(configs.unlabelled);
  const runDir = resolveRunDir(config, configPath, options.output);
  const { io } = options;
  const perModel: Record<ComparedModel, { error: number; errors: number; seconds: number }[]> = {
    teacher: [],
    scratch: [],
    distilled: [],
    distilledUnlabelled: [],
  };
  let adapter = '';
  let split = { train: 0, test: 0 };
  const record = (seed: number, model: ComparedModel, label: string, error: number, errors: number, rows: number, seconds: number) => {
    perModel[model].push({ error, errors, seconds });
    io.stderr(`seed ${seed} ${label.padEnd(26)} test error ${(error * 100).toFixed(2)}% (${errors}/${rows}) in ${seconds.toFixed(1)}s\n`);
  };
  const validationOf = (result: DistillRunResult, model: string) => {
    const v = result.validation;
    if (!v || typeof v.error !== 'number' || typeof v.errors !== 'number')
      throw badValue('data.validation', undefined, `labelled validation data (the ${model} run reported no error)`);
    return { error: v.error, errors: v.errors, rows: result.rows.validation ?? 0 };
  };
  const runOne = (overrides: Partial<DistillConfig>, seed: number, folder: string) =>
    runCompared({ ...base, ...overrides }, seed, folder, configPath, options, runDir);

  for (const seed of compare.seeds) {
    const distilled = await runOne({}, seed, 'distilled');
    const teacherMetrics = distilled.teacher?.validation;
    if (!teacherMetrics)
      throw badValue('teacher', describeSpec(base.teacher), 'a model teacher (trained, model) whose own validation error can be measured');
    adapter = distilled.adapter;
    split = { train: distilled.rows.train, test: distilled.rows.validation ?? 0 };
    record(seed, 'teacher', 'teacher', teacherMetrics.error, teacherMetrics.errors, teacherMetrics.rows, distilled.teacher?.seconds ?? 0);
    if (compare.scratch) {
      const scratch = await runOne({ teacher: undefined }, seed, 'scratch');
      const v = validationOf(scratch, 'scratch');
      record(seed, 'scratch', 'student (scratch)', v.error, v.errors, v.rows, scratch.seconds);
    }
    const d = validationOf(distilled, 'distilled');
    record(seed, 'distilled', 'student (distilled)', d.error, d.errors, d.rows, distilled.seconds);
    if (unlabelledBaseline) {
      // The teacher this seed's distilled run trained, read back rather than trained again.
      const teacher: PluginSpec =
        pluginName(base.teacher) === 'trained' ? { name: 'model', path: join(distilled.runDir, 'teacher.safetensors') } : base.teacher;
      const unlabelled = await runOne(unlabelledConfig(base, teacher), seed, 'no-labels');
      const v = validationOf(unlabelled, 'no-labels');
      record(seed, 'distilledUnlabelled', 'student (no labels)', v.error, v.errors, v.rows, unlabelled.seconds);
    }
  }

  const summarize = (rows: { error: number; errors: number; seconds: number }[]): ComparedModelResult => {
    const { mean, std } = meanStd(rows.map((r) => r.error));
    return { testError: rows.map((r) => r.error), errors: rows.map((r) => r.errors), seconds: rows.map((r) => r.seconds), mean, std };
  };
  const models: ComparisonResult['models'] = {
    teacher: summarize(perModel.teacher),
    distilled: summarize(perModel.distilled),
    ...(compare.scratch ? { scratch: summarize(perModel.scratch) } : {}),
    ...(unlabelledBaseline ? { distilledUnlabelled: summarize(perModel.distilledUnlabelled) } : {}),
  };
  const { loss } = base;
  const setup: ComparisonResult['setup'] = {
    teacher: describeSpec(base.teacher),
    distilled: distilledSetup(base),
    ...(compare.scratch ? { scratch: `${describeSpec(base.student)}; hard labels` } : {}),
    ...(unlabelledBaseline
      ? { distilledUnlabelled: `${describeSpec(base.student)}; T = ${scheduleText(loss.temperature)}, soft targets only` }
      : {}),
  };
  const result: ComparisonResult = { adapter, seeds: compare.seeds, split, setup, models, runDir };
  if (compare.scratch) Object.assign(result, gapClosed(models.teacher.testError, models.scratch!.testError, models.distilled.testError));
  return result;
}

/** The from-scratch baseline of a text comparison: next-token cross-entropy only, so no teacher-only setting. */
const lmScratchConfig = (base: DistillConfig): DistillConfig => ({
  ...base,
  teacher: undefined,
  data: { ...base.data, useLabels: true },
  training: { ...base.training, fusedHead: undefined },
  loss: { ...base.loss, hidden: undefined },
});

/**
 * `compare` on text data: per seed the config's distillation and (with `scratch`) the same student
 * trained on the same documents with next-token cross-entropy only, each in its own run folder,
 * and the teacher's own validation nats/token (measured in each seed's distilled run; for a "cache"
 * teacher, the "gguf" it is built from).
 */
async function runLmComparison(config: DistillConfig, configPath: string, options: DistillRunOptions): Promise<LmComparisonResult> {
  const { compare, ...base } = config;
  // Before the first run: what would stop the comparison half-way (after the distilled run).
  textComparison(base, compare!);
  const scratchConfig = lmScratchConfig(base);
  if (compare!.scratch) {
    lmTraining(scratchConfig);
    lmTeacherSettings(scratchConfig, undefined);
    watchedMetrics(scratchConfig);
  }
  const runDir = resolveRunDir(config, configPath, options.output);
  const { io } = options;
  type Row = { crossEntropy: number; perplexity: number; bitsPerToken: number; seconds: number };
  const perModel: Record<'teacher' | 'scratch' | 'distilled', Row[]> = { teacher: [], scratch: [], distilled: [] };
  let adapter = '';
  let split = { train: 0, test: 0 };
  let tokens = { train: 0, validation: 0 };
  const record = (seed: number, model: keyof typeof perModel, label: string, metrics: Partial<Record<string, number>>, seconds: number) => {
    const { crossEntropy, perplexity, bitsPerToken } = metrics;
    if (crossEntropy === undefined || perplexity === undefined || bitsPerToken === undefined)
      throw badValue('data.validation', undefined, `held-out text documents (the ${label} run reported no validation nats/token)`);
    perModel[model].push({ crossEntropy, perplexity, bitsPerToken, seconds });
    io.stderr(
      `seed ${seed} ${label.padEnd(26)} validation ${crossEntropy.toFixed(4)} nats/token (perplexity ${perplexity.toFixed(2)}) in ${seconds.toFixed(1)}s\n`,
    );
  };
  const runOne = (settings: DistillConfig, seed: number, folder: string) =>
    runCompared(settings, seed, folder, configPath, options, runDir);

  for (const seed of compare!.seeds) {
    const distilled = await runOne(base, seed, 'distilled');
    const teacherMetrics = distilled.lm?.teacher?.validation;
    if (!teacherMetrics)
      throw badValue(
        'teacher',
        describeSpec(base.teacher!),
        'a "gguf" teacher, or a "cache" built by one, whose own validation nats/token can be measured',
      );
    adapter = distilled.adapter;
    split = { train: distilled.rows.train, test: distilled.rows.validation ?? 0 };
    tokens = { train: distilled.lm!.tokens.train, validation: distilled.lm!.tokens.validation ?? 0 };
    record(seed, 'teacher', 'teacher', { ...teacherMetrics }, 0);
    if (compare!.scratch) {
      const scratch = await runOne(scratchConfig, seed, 'scratch');
      record(seed, 'scratch', 'student (scratch)', scratch.validation ?? {}, scratch.seconds);
    }
    record(seed, 'distilled', 'student (distilled)', distilled.validation ?? {}, distilled.seconds);
  }

  const summarize = (rows: Row[]): ComparedLmModelResult => {
    const crossEntropy = rows.map((r) => r.crossEntropy);
    const { mean, std } = meanStd(crossEntropy);
    return {
      crossEntropy,
      perplexity: rows.map((r) => r.perplexity),
      bitsPerToken: rows.map((r) => r.bitsPerToken),
      seconds: rows.map((r) => r.seconds),
      mean,
      std,
    };
  };
  const models: LmComparisonResult['models'] = {
    teacher: summarize(perModel.teacher),
    distilled: summarize(perModel.distilled),
    ...(compare!.scratch ? { scratch: summarize(perModel.scratch) } : {}),
  };
  const setup: LmComparisonResult['setup'] = {
    teacher: describeSpec(base.teacher!),
    distilled: distilledSetup(base),
    ...(compare!.scratch ? { scratch: `${describeSpec(base.student)}; next-token cross-entropy` } : {}),
  };
  const result: LmComparisonResult = { kind: 'text', adapter, seeds: compare!.seeds, split, tokens, setup, models, runDir };
  if (compare!.scratch)
    Object.assign(result, gapClosed(models.teacher.crossEntropy, models.scratch!.crossEntropy, models.distilled.crossEntropy));
  return result;
}

/** The comparison as `distillery demo` prints it; a text comparison in nats/token. */
export function formatComparisonTable(result: ComparisonResult | LmComparisonResult): string {
  const text = isLmComparison(result);
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const nats = (v: number) => v.toFixed(4);
  const value = text ? nats : pct;
  const share = (v: number | null) => (v === null ? 'n/a (teacher not better)' : `${Math.round(v * 100)}%`);
  const names: [ComparedModel, string][] = [
    ['teacher', 'teacher'],
    ['scratch', 'student, from scratch'],
    ['distilled', 'student, distilled'],
    ['distilledUnlabelled', 'student, distilled, no labels'],
  ];
  const lines = [
    text
      ? `${result.split.train} training / ${result.split.test} validation documents (${result.tokens.train} / ${result.tokens.validation} tokens); seeds ${result.seeds.join(', ')}; adapter ${result.adapter}`
      : `${result.split.train} training / ${result.split.test} held-out rows; seeds ${result.seeds.join(', ')}; adapter ${result.adapter}`,
    '',
    `${'model'.padEnd(31)} ${(text ? 'nats/token (mean ± sd)' : 'test error (mean ± sd)').padEnd(24)} ${(text ? 'perplexity per seed' : 'errors per seed').padEnd(18)} ${'train s'.padEnd(8)} setup`,
  ];
  for (const [key, name] of names) {
    const m = (result.models as Partial<Record<ComparedModel, ComparedModelResult | ComparedLmModelResult>>)[key];
    if (!m) continue;
    const perSeed = 'errors' in m ? m.errors.join(', ') : m.perplexity.map((p) => p.toFixed(2)).join(', ');
    lines.push(
      `${name.padEnd(31)} ${`${value(m.mean)} ± ${value(m.std)}`.padEnd(24)} ${perSeed.padEnd(18)} ${meanStd(m.seconds).mean.toFixed(1).padEnd(8)} ${(result.setup as Partial<Record<ComparedModel, string>>)[key] ?? ''}`,
    );
  }
  if (result.improvement && result.recovered) {
    lines.push(
      '',
      `distillation vs scratch: ${value(result.improvement.mean)} ± ${value(result.improvement.std)} lower ${text ? 'validation nats/token' : 'test error'}; better on ${result.improvement.seedsImproved}/${result.seeds.length} seeds`,
      `teacher–scratch gap recovered by distillation: ${share(result.recovered.ofMeans)} of the means; per seed ${result.recovered.perSeed.map(share).join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
