import { readFile } from 'node:fs/promises';
import { createRegistry, definePlugin, DistilleryError, type PluginRegistry } from '@distillery/core';
import { z } from 'zod';
import { parseJsonlText } from './jsonl-text.js';
import { OpenAITeacher } from './openai.js';
import { ReplayTeacher, type ReplayEntry } from './replay.js';

export const openAITeacherSchema = z
  .object({
    baseURL: z.string().regex(/^https?:\/\//, 'an http(s) URL'),
    model: z.string().min(1),
    /** Environment variable with the key (default OPENAI_API_KEY). */
    apiKeyEnv: z.string().min(1).optional(),
    /** The key itself; prefer apiKeyEnv. Never logged or saved. */
    apiKey: z.string().min(1).optional(),
    api: z.enum(['auto', 'chat', 'completions']).optional(),
    timeoutMs: z.number().positive().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    name: z.string().min(1).optional(),
  })
  .strict();

export const replayTeacherSchema = z
  .object({
    /** JSONL of recordings: `{ "prompt": … }` or `{ "messages": [...] }` with `"text"` or `"completion"`. */
    path: z.string().min(1),
    name: z.string().min(1).optional(),
  })
  .strict();

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
