import { readFile } from 'node:fs/promises';
import { createRegistry, definePlugin, DistilleryError, type PluginRegistry } from '@distillery/core';
import * as z from 'zod/mini';
import { parseJsonlText } from './jsonl-text.js';
import { OpenAITeacher } from './openai.js';
import { ReplayTeacher, type ReplayEntry } from './replay.js';

export const openAITeacherSchema = z.strictObject({
    baseURL: z.string().check(z.regex(/^https?:\/\//, 'an http(s) URL')),
    model: z.string().check(z.minLength(1)),
    /** Environment variable with the key (default OPENAI_API_KEY). */
    apiKeyEnv: z.optional(z.string().check(z.minLength(1))),
    /** The key itself; prefer apiKeyEnv. Never logged or saved. */
    apiKey: z.optional(z.string().check(z.minLength(1))),
    api: z.optional(z.enum(['auto', 'chat', 'completions'])),
    timeoutMs: z.optional(z.number().check(z.positive())),
    headers: z.optional(z.record(z.string(), z.string())),
    name: z.optional(z.string().check(z.minLength(1))),
  });

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
      throw new DistilleryError('E_BAD_INPUT', `${path}: line ${i + 1} needs "prompt" or "messages", and "text" or "completion"`, { field: path, line: i + 1 });
    }
    return { request: typeof row.prompt === 'string' ? { prompt: row.prompt } : { messages: row.messages as ReplayEntry['request']['messages'] }, completion };
  });
}

/** The teachers this package registers: `openai` (any OpenAI-compatible server) and `replay` (recordings). */
export const plugins = [
  definePlugin({
    kind: 'teacher',
    name: 'openai',
    description: 'An LLM behind an OpenAI-compatible API (OpenAI, vLLM, llama.cpp server, Ollama…)',
    configSchema: openAITeacherSchema,
    create: (config) => new OpenAITeacher(config),
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
