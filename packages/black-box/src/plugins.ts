import { readFile } from 'node:fs/promises';
import { createRegistry, definePlugin, DistilleryError, type PluginRegistry } from '@distillery/core';
import * as z from 'zod/mini';
import { parseJsonlText } from './jsonl-text.js';
import { OpenAITeacher } from './openai.js';
import { openAIPool } from './pool.js';
import { ReplayTeacher, type ReplayEntry } from './replay.js';

const httpUrl = z.string().check(z.regex(/^https?:\/\//, 'an http(s) URL'));

/** One server of an endpoint pool (see TeacherPool): its URL, credentials, capacity, pacing and weight. */
export const openAIEndpointSchema = z.strictObject({
  baseURL: httpUrl,
  apiKeyEnv: z.optional(z.string().check(z.minLength(1))),
  apiKey: z.optional(z.string().check(z.minLength(1))),
  headers: z.optional(z.record(z.string(), z.string())),
  api: z.optional(z.enum(['auto', 'chat', 'completions'])),
  timeoutMs: z.optional(z.number().check(z.positive())),
  model: z.optional(z.string().check(z.minLength(1))),
  concurrency: z.optional(z.number().check(z.int(), z.gte(1), z.lte(1024))),
  requestsPerMinute: z.optional(z.number().check(z.positive())),
  weight: z.optional(z.number().check(z.positive())),
});

export const openAITeacherSchema = z
  .strictObject({
    /** One server… */
    baseURL: z.optional(httpUrl),
    /** …or a pool of servers of the same model: least-loaded routing, failover, benching (TeacherPool). */
    endpoints: z.optional(z.array(openAIEndpointSchema).check(z.minLength(1))),
    /** Pool tuning: consecutive failures that bench an endpoint, and the first bench length. */
    benchAfter: z.optional(z.number().check(z.int(), z.gte(1))),
    benchMs: z.optional(z.number().check(z.gte(0))),
    model: z.string().check(z.minLength(1)),
    /** Environment variable with the key (default OPENAI_API_KEY). */
    apiKeyEnv: z.optional(z.string().check(z.minLength(1))),
    /** The key itself; prefer apiKeyEnv. Never logged or saved. */
    apiKey: z.optional(z.string().check(z.minLength(1))),
    api: z.optional(z.enum(['auto', 'chat', 'completions'])),
    timeoutMs: z.optional(z.number().check(z.positive())),
    headers: z.optional(z.record(z.string(), z.string())),
    name: z.optional(z.string().check(z.minLength(1))),
  })
  .check(
    z.superRefine((c, ctx) => {
      if ((c.baseURL === undefined) === (c.endpoints === undefined))
        ctx.addIssue({ code: 'custom', message: 'exactly one of baseURL, endpoints', path: ['baseURL'] });
    }),
  );

export const replayTeacherSchema = z.strictObject({
  /** JSONL of recordings: `{ "prompt": … }` or `{ "messages": [...] }` with `"text"` or `"completion"`. */
  path: z.string().check(z.minLength(1)),
  name: z.optional(z.string().check(z.minLength(1))),
});

/** Loads a recordings file for the `replay` teacher. */
export async function loadReplayEntries(path: string): Promise<ReplayEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new DistilleryError('E_NOT_FOUND', `replay recordings ${path} cannot be read`, { field: 'teacher.path', value: path });
  }
  return parseJsonlText<Record<string, unknown>>(text, path).map((row, i) => {
    const completion = typeof row.text === 'string' ? row.text : (row.completion as ReplayEntry['completion'] | undefined);
    if ((typeof row.prompt !== 'string' && !Array.isArray(row.messages)) || completion === undefined) {
      throw new DistilleryError('E_BAD_INPUT', `${path}: line ${i + 1} needs "prompt" or "messages", and "text" or "completion"`, {
        field: path,
        line: i + 1,
      });
    }
    return {
      request: typeof row.prompt === 'string' ? { prompt: row.prompt } : { messages: row.messages as ReplayEntry['request']['messages'] },
      completion,
    };
  });
}

/** The teachers this package registers: `openai` (any OpenAI-compatible server) and `replay` (recordings). */
export const plugins = [
  definePlugin({
    kind: 'teacher',
    name: 'openai',
    description: 'An LLM behind an OpenAI-compatible API (OpenAI, vLLM, llama.cpp server, Ollama…)',
    configSchema: openAITeacherSchema,
    create: ({ endpoints, benchAfter, benchMs, baseURL, ...shared }) =>
      endpoints ? openAIPool(shared, endpoints, { benchAfter, benchMs }) : new OpenAITeacher({ ...shared, baseURL: baseURL! }),
  }),
  definePlugin({
    kind: 'teacher',
    name: 'replay',
    description: 'Answers from recorded completions (offline, deterministic)',
    configSchema: replayTeacherSchema,
    create: async (config) => new ReplayTeacher(await loadReplayEntries(config.path), { name: config.name ?? 'replay' }),
  }),
];

/** Core's registry plus this package's teachers. */
export function createBlackBoxRegistry(): PluginRegistry {
  return createRegistry().register(...plugins);
}
