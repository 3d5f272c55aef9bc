import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DistilleryError, parseConfig, type BlackBoxTeacher, type CompletionRequest } from '@distillery/core';
import { fileReadError } from '@distillery/core/node';
import * as z from 'zod/mini';
import { collect, type CollectItem, type CollectSummary } from './collect.js';
import { exportTrainingData, type ExportSummary } from './export.js';
import { parseJsonlText } from './jsonl-text.js';
import { checkCompletionRequest } from './request-check.js';
import {
  collectRunOptions,
  collectRunShape,
  disposeTeacher,
  resolveConfigPath as at,
  resolveTeacher,
  samplingSchema,
  teacherSpecSchema,
  type RunHooks,
} from './run-config.js';
import { parseShard, shardItems } from './shard.js';

const int = z.number().check(z.int());

/** A worked example of a few-shot prompt (input, rationale, label). */
export const exemplarSchema = z.strictObject({
  input: z.string(),
  rationale: z.string(),
  label: z.string(),
  choices: z.optional(z.array(z.string())),
  premise: z.optional(z.string()),
  hypothesis: z.optional(z.string()),
});
/** The task presets `@distillery/step-by-step` builds prompts and parses answers with. */
export const presetNameSchema = z.enum(['multiple-choice', 'arithmetic', 'nli']);
/** Field names of your own examples JSONL, when they differ from `id`, `input`, `label`, … */
export const exampleFieldsSchema = z.partial(
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
  /** The release folder; default: the copy vendored in `@distillery/step-by-step`. */
  dir: z.optional(z.string().check(z.minLength(1))),
  dataset: z.enum(['svamp', 'cqa']),
  split: z.enum(['train', 'test']),
  limit: z.optional(int.check(z.positive())),
});

export const collectConfigSchema = z.strictObject({
  /** Plugin packages to load (their teachers become available by name). */
  plugins: z.optional(z.array(z.string().check(z.minLength(1)))),
  /** A teacher spec (`{ name: "openai", … }`), or `"recorded"` to replay the release's outputs (with input.stepByStep). */
  teacher: teacherSpecSchema,
  input: z
    .strictObject({
      /** JSONL of requests: `{ id, prompt | messages, temperature?, maxTokens?, stop?, topLogprobs?, seed? }`. */
      requests: z.optional(z.string().check(z.minLength(1))),
      /** JSONL of examples turned into few-shot prompts with `preset` and `exemplars`. */
      examples: z.optional(z.string().check(z.minLength(1))),
      /** A split of the Distilling step-by-step release. */
      stepByStep: z.optional(releaseSchema),
      fields: z.optional(exampleFieldsSchema),
      limit: z.optional(int.check(z.positive())),
      preset: z.optional(presetNameSchema),
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
  ...collectRunShape,
});

export type CollectConfig = z.input<typeof collectConfigSchema>;

/** The `input` of a collect config without `requests`: examples or a release split, with the prompt settings. */
export type FewShotInput = Omit<z.infer<typeof collectConfigSchema>['input'], 'requests'>;

/**
 * Builds the items of `input.examples` / `input.stepByStep` (few-shot prompts live in
 * `@distillery/step-by-step`; its `stepByStepInputs` implements this).
 */
export interface FewShotInputs {
  /**
   * One item per example (`limit` applied) and, for `teacher: "recorded"`, the teacher that
   * replays the release's outputs.
   */
  prepare(
    input: FewShotInput,
    context: { base: string; sampling: Omit<CompletionRequest, 'prompt' | 'messages'>; recorded: boolean },
  ): Promise<{ items: CollectItem[]; teacher?: BlackBoxTeacher }>;
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
    teacher = await resolveTeacher(config.teacher, config.plugins, hooks);
  } else {
    if (!hooks.fewShot) {
      const field = input.stepByStep ? 'input.stepByStep' : 'input.examples';
      throw new DistilleryError(
        'E_BAD_CONFIG',
        `invalid config\n  ${field}: few-shot inputs are built by @distillery/step-by-step; pass hooks.fewShot = stepByStepInputs from @distillery/step-by-step/node (distillery collect does)`,
        { field },
      );
    }
    const prepared = await hooks.fewShot.prepare(input, { base, sampling, recorded });
    items = prepared.items;
    teacher = prepared.teacher ?? (await resolveTeacher(config.teacher, config.plugins, hooks));
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
      ...collectRunOptions(config, base, recorded ? undefined : join(dirname(output), 'teacher-cache')),
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
