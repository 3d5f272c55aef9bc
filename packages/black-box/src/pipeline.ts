import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DistilleryError, parseConfig, type BlackBoxTeacher, type CompletionRequest, type PluginRegistry } from '@distillery/core';
import { fileReadError, writeFileAtomic } from '@distillery/core/node';
import * as z from 'zod/mini';
import { FileResponseCache } from './cache-file.js';
import { exportTrainingData, type ExportSummary } from './export.js';
import { checkCompletionRequest } from './request-check.js';
import {
  collect,
  type CollectItem,
  type CollectOptions,
  type CollectProgress,
  type CollectSummary,
  type CollectedRecord,
} from './collect.js';
import { readJsonl } from './jsonl.js';
import { parseJsonlText } from './jsonl-text.js';
import { createBlackBoxRegistry } from './plugins.js';
import { parseShard, shardItems } from './shard.js';
import { ReplayTeacher } from './replay.js';
import { loadExamplesJsonl, loadStepByStepSplit, loadRecordedOutputs, type StepByStepDataset } from './step-by-step/data.js';
import {
  buildEvaluationSet,
  buildStepByStepDataset,
  parseCompletions,
  teacherAccuracy,
  type BuildStats,
  type StepByStepRecord,
  type TeacherAccuracy,
} from './step-by-step/dataset.js';
import { compareStudents, type CompareStudentsOptions, type StudentComparison } from './step-by-step/student/compare.js';
import { studentTrainingSchema } from './step-by-step/student/train.js';
import { PRESETS, type Exemplar, type PresetName, type StepByStepExample, type TaskPreset } from './step-by-step/presets.js';
import { buildFewShotPrompt, stepByStepItems } from './step-by-step/prompt.js';

const int = z.number().check(z.int());
export const samplingSchema = z.strictObject({
  temperature: z.optional(z.number().check(z.gte(0))),
  maxTokens: z.optional(int.check(z.positive())),
  stop: z.optional(z.array(z.string())),
  topLogprobs: z.optional(int.check(z.gte(0), z.lte(20))),
  seed: z.optional(int),
});

const runSchema = {
  /** Requests in flight at once (default 8). */
  concurrency: z.optional(int.check(z.gte(1), z.lte(1024))),
  /** Per-attempt timeout (default 120 000 ms). */
  timeoutMs: z.optional(z.number().check(z.positive())),
  retry: z.optional(
    z.partial(
      z.strictObject({
        retries: int.check(z.gte(0)),
        baseDelayMs: z.number().check(z.gte(0)),
        maxDelayMs: z.number().check(z.gte(0)),
        factor: z.number().check(z.gte(1)),
        jitter: z.enum(['full', 'equal', 'none']),
        maxRetryAfterMs: z.number().check(z.gte(0)),
      }),
    ),
  ),
  rateLimit: z.optional(
    z.partial(
      z.strictObject({
        requestsPerMinute: z.number().check(z.positive()),
        tokensPerMinute: z.number().check(z.positive()),
        burstRequests: int.check(z.gte(1)),
      }),
    ),
  ),
  budget: z.optional(
    z
      .partial(
        z.strictObject({
          maxRequests: int.check(z.gte(0)),
          maxTokens: int.check(z.gte(0)),
          maxCostUsd: z.number().check(z.gte(0)),
          pricing: z.strictObject({ promptPerMillion: z.number().check(z.gte(0)), completionPerMillion: z.number().check(z.gte(0)) }),
        }),
      )
      .check(
        z.refine((b) => b.maxCostUsd === undefined || b.pricing !== undefined, {
          message: 'pricing (USD per million tokens) when maxCostUsd is set',
          path: ['pricing'],
        }),
      ),
  ),
  /** Response cache directory, or false for none (default: `teacher-cache` beside the output). */
  cache: z.optional(z.union([z.literal(false), z.strictObject({ dir: z.string().check(z.minLength(1)) })])),
  fsync: z.optional(z.boolean()),
  /** Skip ids already collected (default true). */
  resume: z.optional(z.boolean()),
};

const teacherSpec = z.union([z.string().check(z.minLength(1)), z.looseObject({ name: z.string().check(z.minLength(1)) })]);
const exemplarSchema = z.strictObject({
  input: z.string(),
  rationale: z.string(),
  label: z.string(),
  choices: z.optional(z.array(z.string())),
  premise: z.optional(z.string()),
  hypothesis: z.optional(z.string()),
});
const presetName = z.enum(['multiple-choice', 'arithmetic', 'nli']);
const fieldsSchema = z.partial(
  z.strictObject({
    id: z.string(),
    input: z.string(),
    label: z.string(),
    choices: z.string(),
    premise: z.string(),
    hypothesis: z.string(),
  }),
);
const releaseSchema = z.strictObject({
  dir: z.string().check(z.minLength(1)),
  dataset: z.enum(['svamp', 'cqa']),
  split: z.enum(['train', 'test']),
  limit: z.optional(int.check(z.positive())),
});

export const collectConfigSchema = z.strictObject({
  /** Plugin packages to load (their teachers become available by name). */
  plugins: z.optional(z.array(z.string().check(z.minLength(1)))),
  /** A teacher spec (`{ name: "openai", … }`), or `"recorded"` to replay the release's outputs (with input.stepByStep). */
  teacher: teacherSpec,
  input: z
    .strictObject({
      /** JSONL of requests: `{ id, prompt | messages, temperature?, maxTokens?, stop?, topLogprobs?, seed? }`. */
      requests: z.optional(z.string().check(z.minLength(1))),
      /** JSONL of examples turned into few-shot prompts with `preset` and `exemplars`. */
      examples: z.optional(z.string().check(z.minLength(1))),
      /** A split of the Distilling step-by-step release. */
      stepByStep: z.optional(releaseSchema),
      fields: z.optional(fieldsSchema),
      limit: z.optional(int.check(z.positive())),
      preset: z.optional(presetName),
      exemplars: z.optional(z.array(exemplarSchema)),
      instruction: z.optional(z.string()),
    })
    .check(
      z.superRefine((input, ctx) => {
        const given = (['requests', 'examples', 'stepByStep'] as const).filter((k) => input[k] !== undefined);
        if (given.length !== 1)
          ctx.addIssue({
            code: 'custom',
            message: `exactly one of requests, examples, stepByStep (got ${given.length ? given.join(', ') : 'none'})`,
            path: ['requests'],
          });
        if (input.examples !== undefined && input.preset === undefined)
          ctx.addIssue({ code: 'custom', message: 'a preset to build prompts from examples', path: ['preset'] });
      }),
    ),
  sampling: z.optional(samplingSchema),
  /** Output JSONL (appended; resumed by default). */
  output: z.string().check(z.minLength(1)),
  /** Collect only shard `i` of `n` ("i/n", 0-based): the items whose id hashes to i (see shardOf). */
  shard: z.optional(z.string().check(z.regex(/^\d+\/\d+$/, 'i/n, e.g. "0/4"'))),
  /**
   * Also write the records as training data after collecting: `{prompt, completion}` and
   * `{messages}` JSONL in input order plus a dataset card, in a folder of their own.
   */
  export: z.optional(z.strictObject({ dir: z.string().check(z.minLength(1)) })),
  ...runSchema,
});

export type CollectConfig = z.input<typeof collectConfigSchema>;

export const stepByStepConfigSchema = z.strictObject({
  plugins: z.optional(z.array(z.string().check(z.minLength(1)))),
  data: z
    .strictObject({
      /** The release folder (…/data/step-by-step) with `dataset`… */
      dir: z.optional(z.string().check(z.minLength(1))),
      dataset: z.optional(z.enum(['svamp', 'cqa'])),
      /** …or your own JSONL files. */
      train: z.optional(z.string().check(z.minLength(1))),
      test: z.optional(z.string().check(z.minLength(1))),
      fields: z.optional(fieldsSchema),
      /** Use only the first `limit` rows of each split (CI-sized runs). */
      limit: z.optional(int.check(z.positive())),
    })
    .check(
      z.superRefine((d, ctx) => {
        const release = d.dir !== undefined || d.dataset !== undefined;
        if (release && (d.dir === undefined || d.dataset === undefined))
          ctx.addIssue({
            code: 'custom',
            message: 'both dir and dataset for the release',
            path: [d.dir === undefined ? 'dir' : 'dataset'],
          });
        if (release === (d.train !== undefined))
          ctx.addIssue({ code: 'custom', message: 'either dir + dataset, or train (and optionally test) files', path: ['train'] });
      }),
    ),
  /** Default: arithmetic for svamp, multiple-choice for cqa. */
  preset: z.optional(presetName),
  exemplars: z.optional(z.array(exemplarSchema)),
  instruction: z.optional(z.string()),
  /** `"recorded"` (replay the release's PaLM outputs) or a teacher spec. Default "recorded" for the release. */
  teacher: z.optional(teacherSpec),
  sampling: z.optional(samplingSchema),
  collect: z.optional(z.strictObject(runSchema)),
  build: z.optional(
    z.strictObject({
      labels: z.optional(z.enum(['teacher', 'gold'])),
      dropDisagreeing: z.optional(z.boolean()),
      validationFraction: z.optional(z.number().check(z.gte(0), z.lt(1))),
      seed: z.optional(int),
    }),
  ),
  /** Output folder: completions/, train/validation/test.jsonl, rejected.jsonl, report.json. */
  output: z.string().check(z.minLength(1)),
  /** Student training: standard vs step-by-step students over seeds (needs a GPUDevice, see RunHooks.device). */
  train: z.optional(studentTrainingSchema),
});

export type StepByStepConfig = z.input<typeof stepByStepConfigSchema>;

export interface RunHooks {
  /** Relative paths in the config are resolved against this (the config file's folder). */
  baseDir?: string;
  onProgress?: (split: string, progress: CollectProgress) => void;
  onRetry?: CollectOptions['onRetry'];
  signal?: AbortSignal;
  /** Registry to resolve teachers from (default: core + black-box teachers). */
  registry?: PluginRegistry;
  /** How plugin packages are imported (default `import()`). */
  importer?: (specifier: string) => Promise<unknown>;
  /** Where the students train (required when the config has a `train` section). */
  device?: GPUDevice;
  onTrainStep?: CompareStudentsOptions['onStep'];
  onTrainRun?: CompareStudentsOptions['onRun'];
}

/** Reads a JSON config file: E_NOT_FOUND when missing, E_BAD_CONFIG when not JSON. */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw (
      fileReadError(error, path, 'config', 'config file') ??
      new DistilleryError('E_NOT_FOUND', `config file ${path} cannot be read`, { field: 'config', value: path })
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // Position only: V8's message may quote the text around the error, and a config may hold a key.
    const where = /position \d+(?: \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    throw new DistilleryError('E_BAD_CONFIG', `config file ${path} is not valid JSON${where ? ` (at ${where})` : ''}`, {
      field: 'config',
      value: path,
    });
  }
}

const at = (base: string, path: string) => (isAbsolute(path) ? path : resolve(base, path));

async function teacherFrom(
  spec: z.infer<typeof teacherSpec>,
  plugins: readonly string[] | undefined,
  hooks: RunHooks,
): Promise<BlackBoxTeacher> {
  const registry = hooks.registry ?? createBlackBoxRegistry();
  for (const pkg of plugins ?? []) await registry.loadPackage(pkg, hooks.importer);
  const teacher = await registry.create<BlackBoxTeacher>('teacher', spec, { path: 'teacher' });
  if (!teacher || teacher.kind !== 'black-box' || typeof teacher.complete !== 'function') {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `teacher ${JSON.stringify(typeof spec === 'string' ? spec : spec.name)} is not a black-box teacher (no complete())`,
      { field: 'teacher.name' },
    );
  }
  return teacher;
}

/** Validates a teacher spec against its plugin's schema without creating the teacher (no model load, no connection). */
async function checkTeacherSpec(spec: z.infer<typeof teacherSpec>, plugins: readonly string[] | undefined, hooks: RunHooks): Promise<void> {
  const registry = hooks.registry ?? createBlackBoxRegistry();
  for (const pkg of plugins ?? []) await registry.loadPackage(pkg, hooks.importer);
  const { name, ...config } = typeof spec === 'string' ? { name: spec } : spec;
  const plugin = registry.get('teacher', name);
  if (plugin.configSchema) parseConfig(plugin.configSchema, config, 'teacher');
}

/** A replay of the release's recorded outputs for these examples, keyed by the prompts they produce. */
function recordedTeacher(
  examples: readonly StepByStepExample[],
  outputs: readonly string[],
  prompt: { preset: TaskPreset; exemplars: readonly Exemplar[]; instruction?: string },
  name: string,
): ReplayTeacher {
  return new ReplayTeacher(
    examples.map((example, i) => ({ request: { prompt: buildFewShotPrompt(prompt, example) }, completion: outputs[i]! })),
    { name },
  );
}

function runOptions(config: z.infer<z.ZodMiniObject<typeof runSchema>>, base: string, defaultCacheDir: string | undefined) {
  const cacheDir = config.cache === false ? undefined : config.cache ? at(base, config.cache.dir) : defaultCacheDir;
  return {
    concurrency: config.concurrency,
    timeoutMs: config.timeoutMs,
    retry: config.retry,
    rateLimit: config.rateLimit,
    budget: config.budget,
    cache: cacheDir ? new FileResponseCache(cacheDir) : undefined,
    fsync: config.fsync,
    resume: config.resume,
  };
}

async function readRequests(path: string, sampling: Omit<CompletionRequest, 'prompt' | 'messages'>): Promise<CollectItem[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw (
      fileReadError(error, path, 'input.requests', 'requests file') ??
      new DistilleryError('E_NOT_FOUND', `requests file ${path} cannot be read`, { field: 'input.requests', value: path })
    );
  }
  return parseJsonlText<Record<string, unknown>>(text, path).map((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new DistilleryError('E_BAD_INPUT', `${path}:${i + 1} (line ${i + 1}) must be a JSON object { id, prompt | messages }`, {
        field: `${path}:${i + 1}`,
        line: i + 1,
        value: row,
      });
    }
    const { id, prompt, messages, ...rest } = row;
    if ((typeof id !== 'string' && typeof id !== 'number') || id === '') {
      throw new DistilleryError(
        'E_BAD_INPUT',
        `${path}:${i + 1}.id (line ${i + 1}) must be a non-empty string or a number, got ${JSON.stringify(id) ?? 'nothing'}`,
        { field: `${path}:${i + 1}.id`, line: i + 1, value: id },
      );
    }
    checkCompletionRequest({ prompt, messages } as Record<string, unknown>, `${path}:${i + 1}`, { line: i + 1 }, 'E_BAD_INPUT');
    const own = parseConfig(samplingSchema, rest, `${path}:${i + 1}`);
    return {
      id: String(id),
      request: {
        ...sampling,
        ...own,
        ...(typeof prompt === 'string' ? { prompt } : { messages: messages as CompletionRequest['messages'] }),
      },
    };
  });
}

export interface CollectRun {
  teacher: string;
  summary: CollectSummary;
  /** With `export` in the config: what the data folder received. */
  export?: ExportSummary;
}

export interface PreparedCollect {
  config: z.infer<typeof collectConfigSchema>;
  /** The config file's folder (relative paths resolve against it). */
  base: string;
  /** The output JSONL, absolute. */
  output: string;
  items: CollectItem[];
  teacher: BlackBoxTeacher;
  /** The teacher replays the release's recorded outputs (no cache). */
  recorded: boolean;
}

/** Validates a collect config and builds its items and teacher (the caller disposes the teacher). */
export async function prepareCollectConfig(value: unknown, hooks: RunHooks = {}): Promise<PreparedCollect> {
  const config = parseConfig(collectConfigSchema, value);
  const base = hooks.baseDir ?? process.cwd();
  const output = at(base, config.output);
  const sampling = { temperature: 0, maxTokens: 256, ...config.sampling };
  const input = config.input;
  let items: CollectItem[];
  let teacher: BlackBoxTeacher;
  const recorded = config.teacher === 'recorded';
  if (recorded && !input.stepByStep)
    throw new DistilleryError('E_BAD_CONFIG', 'invalid config\n  teacher: "recorded" replays the release and needs input.stepByStep', {
      field: 'teacher',
    });
  if (input.requests !== undefined) {
    items = await readRequests(at(base, input.requests), sampling);
    if (input.limit) items = items.slice(0, input.limit);
    teacher = await teacherFrom(config.teacher, config.plugins, hooks);
  } else {
    const release = input.stepByStep;
    let examples = release
      ? await loadStepByStepSplit(at(base, release.dir), release.dataset, release.split)
      : await loadExamplesJsonl(at(base, input.examples!), input.fields);
    const limit = release?.limit ?? input.limit;
    if (limit) examples = examples.slice(0, limit);
    const preset = PRESETS[(input.preset ?? (release ? defaultPreset(release.dataset) : 'arithmetic')) as PresetName];
    const prompt = { preset, exemplars: input.exemplars ?? [], instruction: input.instruction };
    items = stepByStepItems(examples, { ...prompt, sampling });
    if (recorded) {
      const outputs = await loadRecordedOutputs(at(base, release!.dir), release!.dataset, release!.split);
      teacher = recordedTeacher(examples, outputs, prompt, `recorded:${release!.dataset}`);
    } else teacher = await teacherFrom(config.teacher, config.plugins, hooks);
  }
  if (config.shard) items = shardItems(items, parseShard(config.shard, 'shard'));
  return { config, base, output, items, teacher, recorded };
}

/** `distillery collect <config>`: validates the config, builds the items and the teacher, runs `collect`. */
export async function runCollectConfig(value: unknown, hooks: RunHooks = {}): Promise<CollectRun> {
  const { config, base, output, items, teacher, recorded } = await prepareCollectConfig(value, hooks);
  try {
    const summary = await collect({
      teacher,
      items,
      output,
      ...runOptions(config, base, recorded ? undefined : join(dirname(output), 'teacher-cache')),
      signal: hooks.signal,
      onProgress: hooks.onProgress && ((p) => hooks.onProgress!('collect', p)),
      onRetry: hooks.onRetry,
    });
    // Each rerun refreshes the export (overwrite replaces only the export's own files).
    const exported = config.export
      ? await exportTrainingData({ items, records: output, dir: at(base, config.export.dir), teacher: teacher.name, overwrite: true })
      : undefined;
    return { teacher: teacher.name, summary, ...(exported ? { export: exported } : {}) };
  } finally {
    await disposeTeacher(teacher);
  }
}

async function disposeTeacher(teacher: BlackBoxTeacher): Promise<void> {
  const dispose = (teacher as { dispose?: () => unknown }).dispose;
  if (typeof dispose === 'function') await dispose.call(teacher);
}

function defaultPreset(dataset: StepByStepDataset): PresetName {
  return dataset === 'svamp' ? 'arithmetic' : 'multiple-choice';
}

/** Writes records as JSON Lines, atomically. */
export async function writeJsonlFile(path: string, records: readonly unknown[]): Promise<void> {
  await writeFileAtomic(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export interface StepByStepSplitReport {
  examples: number;
  collect: Omit<CollectSummary, 'output' | 'errorsPath'>;
  accuracy: TeacherAccuracy;
}

export interface StepByStepReport {
  dataset: string;
  preset: PresetName;
  teacher: string;
  splits: Record<string, StepByStepSplitReport>;
  build?: BuildStats;
  /** Files written, relative to the output folder. */
  files: string[];
  /** Standard vs step-by-step students (when the config has a `train` section); also in students/comparison.json. */
  training: 'not-configured' | StudentComparison;
  complete: boolean;
}

/**
 * `distillery step-by-step <config>`: collects (or replays) the teacher's chain-of-thought outputs
 * for each split, parses them, reports the teacher's accuracy against gold, and writes the
 * step-by-step dataset (train/validation from the train split, test kept whole) as JSONL that
 * Hugging Face `datasets` loads unchanged.
 */
export async function runStepByStep(value: unknown, hooks: RunHooks = {}): Promise<StepByStepReport> {
  const config = parseConfig(stepByStepConfigSchema, value);
  if (config.train && !hooks.device) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  train: student training needs a GPUDevice (distillery step-by-step provides one; from code pass hooks.device)',
      { field: 'train' },
    );
  }
  const base = hooks.baseDir ?? process.cwd();
  const out = at(base, config.output);
  const data = config.data;
  const release = data.dir !== undefined ? { dir: at(base, data.dir), dataset: data.dataset! } : undefined;
  const presetKey: PresetName | undefined = config.preset ?? (release ? defaultPreset(release.dataset) : undefined);
  if (!presetKey)
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  preset: expected one of "multiple-choice", "arithmetic", "nli" for your own data, got undefined',
      { field: 'preset' },
    );
  const preset = PRESETS[presetKey];
  const teacherSpecValue = config.teacher ?? (release ? 'recorded' : undefined);
  if (teacherSpecValue === undefined)
    throw new DistilleryError('E_BAD_CONFIG', 'invalid config\n  teacher: expected a teacher spec for your own data, got undefined', {
      field: 'teacher',
    });
  const recorded = teacherSpecValue === 'recorded';
  if (recorded && !release)
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  teacher: "recorded" replays the release and needs data.dir + data.dataset',
      { field: 'teacher' },
    );
  // A bad teacher spec is reported as such, before the exemplars a live teacher would need.
  if (!recorded) await checkTeacherSpec(teacherSpecValue, config.plugins, hooks);
  if (!recorded && !config.exemplars?.length)
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  exemplars: expected at least one worked example for a live teacher, got none',
      { field: 'exemplars' },
    );
  const prompt = { preset, exemplars: config.exemplars ?? [], instruction: config.instruction };
  const sampling = { temperature: 0, maxTokens: 256, ...config.sampling };
  const splits: { name: 'train' | 'test'; examples: StepByStepExample[] }[] = [];
  if (release) {
    for (const split of ['train', 'test'] as const)
      splits.push({ name: split, examples: await loadStepByStepSplit(release.dir, release.dataset, split) });
  } else {
    splits.push({ name: 'train', examples: await loadExamplesJsonl(at(base, data.train!), data.fields) });
    if (data.test) splits.push({ name: 'test', examples: await loadExamplesJsonl(at(base, data.test), data.fields) });
  }
  if (data.limit) for (const s of splits) s.examples = s.examples.slice(0, data.limit);

  let built: ReturnType<typeof buildStepByStepDataset> | undefined;
  let testRows: StepByStepRecord[] = [];
  const live = recorded ? undefined : await teacherFrom(teacherSpecValue, config.plugins, hooks);
  const report: StepByStepReport = {
    dataset: release?.dataset ?? data.train!,
    preset: presetKey,
    teacher: live?.name ?? `recorded:${release!.dataset}`,
    splits: {},
    files: [],
    training: 'not-configured',
    complete: true,
  };
  try {
    for (const split of splits) {
      const teacher =
        live ??
        recordedTeacher(
          split.examples,
          (await loadRecordedOutputs(release!.dir, release!.dataset, split.name)).slice(0, split.examples.length),
          prompt,
          report.teacher,
        );
      const completionsPath = join(out, 'completions', `${split.name}.jsonl`);
      const summary = await collect({
        teacher,
        items: stepByStepItems(split.examples, { ...prompt, sampling }),
        output: completionsPath,
        ...runOptions(config.collect ?? {}, base, recorded ? undefined : join(out, 'teacher-cache')),
        signal: hooks.signal,
        onProgress: hooks.onProgress && ((p) => hooks.onProgress!(split.name, p)),
        onRetry: hooks.onRetry,
      });
      const texts = new Map<string, string>();
      for (const record of (await readJsonl<CollectedRecord>(completionsPath)).records) texts.set(record.id, record.completion.text);
      const parsed = parseCompletions(preset, split.examples, texts);
      const { output: _o, errorsPath: _e, ...collectSummary } = summary;
      report.splits[split.name] = { examples: split.examples.length, collect: collectSummary, accuracy: teacherAccuracy(parsed) };
      report.complete &&= summary.complete;
      if (split.name === 'train') {
        built = buildStepByStepDataset(parsed, config.build);
        await writeJsonlFile(join(out, 'train.jsonl'), built.train);
        await writeJsonlFile(join(out, 'validation.jsonl'), built.validation);
        await writeJsonlFile(join(out, 'rejected.jsonl'), built.rejected);
        report.build = built.stats;
        report.files.push('train.jsonl', 'validation.jsonl', 'rejected.jsonl');
      } else {
        testRows = buildEvaluationSet(parsed);
        await writeJsonlFile(join(out, 'test.jsonl'), testRows);
        report.files.push('test.jsonl');
      }
      report.files.push(`completions/${split.name}.jsonl`);
    }
  } finally {
    if (live) await disposeTeacher(live);
  }
  if (config.train && built) {
    // Evaluation needs gold labels: without a test split, the validation rows (gold where known) stand in.
    const test = (testRows.length ? testRows : built.validation).filter((r) => r.label.length > 0);
    const comparison = await compareStudents({
      device: hooks.device!,
      settings: config.train,
      preset,
      train: built.train,
      validation: built.validation,
      test,
      dir: join(out, 'students'),
      labels: config.build?.labels,
      onStep: hooks.onTrainStep,
      onRun: hooks.onTrainRun,
      signal: hooks.signal,
    });
    report.training = comparison;
    await writeFileAtomic(join(out, 'students', 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    report.files.push(
      'students/comparison.json',
      ...comparison.runs.flatMap((r) => r.files.map((f) => `students/${r.mode}-seed${r.seed}/${f}`)),
    );
  }
  report.files.push('report.json');
  await writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
