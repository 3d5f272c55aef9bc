import { isAbsolute, resolve } from 'node:path';
import { DistilleryError, parseConfig, type BlackBoxTeacher, type PluginRegistry } from '@distillery/core';
import * as z from 'zod/mini';
import { FileResponseCache } from './cache-file.js';
import type { CollectOptions, CollectProgress } from './collect.js';
import type { FewShotInputs } from './collect-config.js';
import { createBlackBoxRegistry } from './plugins.js';

// The parts every config runner shares (`distillery collect`, and step-by-step's on top of it):
// sampling and run options, teacher specs resolved through the plugin registry.

const int = z.number().check(z.int());
export const samplingSchema = z.strictObject({
  temperature: z.optional(z.number().check(z.gte(0))),
  maxTokens: z.optional(int.check(z.positive())),
  stop: z.optional(z.array(z.string())),
  topLogprobs: z.optional(int.check(z.gte(0), z.lte(20))),
  seed: z.optional(int),
});

/** The run options of a config (concurrency, retries, rate limit, budget, cache…), as a shape to spread into a schema. */
export const collectRunShape = {
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

/** A teacher in a config: a registered name, or `{ name, …its plugin's options }`. */
export const teacherSpecSchema = z.union([z.string().check(z.minLength(1)), z.looseObject({ name: z.string().check(z.minLength(1)) })]);
export type TeacherSpec = z.infer<typeof teacherSpecSchema>;
export type CollectRunConfig = z.infer<z.ZodMiniObject<typeof collectRunShape>>;

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
  /** Builds few-shot inputs (`input.examples`, `input.stepByStep`); without it such configs are E_BAD_CONFIG. */
  fewShot?: FewShotInputs;
}

/** A config path, resolved against the config's folder. */
export const resolveConfigPath = (base: string, path: string): string => (isAbsolute(path) ? path : resolve(base, path));

/** Creates the teacher a spec names, loading the config's plugin packages first (the caller disposes it). */
export async function resolveTeacher(spec: TeacherSpec, plugins: readonly string[] | undefined, hooks: RunHooks): Promise<BlackBoxTeacher> {
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
export async function checkTeacherSpec(spec: TeacherSpec, plugins: readonly string[] | undefined, hooks: RunHooks): Promise<void> {
  const registry = hooks.registry ?? createBlackBoxRegistry();
  for (const pkg of plugins ?? []) await registry.loadPackage(pkg, hooks.importer);
  const { name, ...config } = typeof spec === 'string' ? { name: spec } : spec;
  const plugin = registry.get('teacher', name);
  if (plugin.configSchema) parseConfig(plugin.configSchema, config, 'teacher');
}

/** `collect` options from a config's run options; the cache defaults to `defaultCacheDir` (none when undefined). */
export function collectRunOptions(config: CollectRunConfig, base: string, defaultCacheDir: string | undefined) {
  const cacheDir = config.cache === false ? undefined : config.cache ? resolveConfigPath(base, config.cache.dir) : defaultCacheDir;
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

/** Calls a teacher's `dispose()` when it has one (a local model frees its memory). */
export async function disposeTeacher(teacher: BlackBoxTeacher): Promise<void> {
  const dispose = (teacher as { dispose?: () => unknown }).dispose;
  if (typeof dispose === 'function') await dispose.call(teacher);
}
