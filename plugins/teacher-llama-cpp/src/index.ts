import { definePlugin } from '@distillery/core';
import { z } from 'zod';
import { LlamaCppTeacher, LlamaCppTopKTeacher } from './teacher.js';

export { LlamaCppTeacher, LlamaCppTopKTeacher, type LlamaCppTeacherOptions, type TokenBatch } from './teacher.js';

/** The config both teachers accept (everything in the spec except `name`). */
export const llamaCppTeacherSchema = z
  .object({
    modelPath: z.string().min(1),
    contextSize: z.number().int().min(16).optional(),
    threads: z.number().int().min(1).optional(),
    sequences: z.number().int().min(1).max(64).optional(),
    gpu: z.union([z.literal(false), z.enum(['auto', 'cuda', 'vulkan', 'metal'])]).optional(),
    seed: z.number().int().optional(),
    /** Teacher name in records and cache keys (default: the file name). */
    teacherName: z.string().min(1).optional(),
    /** Flash attention off, F32 KV cache: exact f32 log-probabilities (see LlamaCppTeacherOptions.exact). */
    exact: z.boolean().optional(),
  })
  .strict();

const topKSchema = llamaCppTeacherSchema.extend({ k: z.number().int().min(1).max(1024).default(8) }).strict();

/**
 * What `registry.loadPackage('@distillery/plugin-teacher-llama-cpp')` registers:
 * `teacher/llama-cpp` (black-box: text + top log-probabilities) and
 * `teacher/llama-cpp-topk` (white-box: top-k targets under teacher forcing).
 */
export const plugins = [
  definePlugin({
    kind: 'teacher',
    name: 'llama-cpp',
    description: 'A local GGUF model through node-llama-cpp: completions, chat, top log-probabilities',
    configSchema: llamaCppTeacherSchema,
    create: ({ teacherName, ...options }) => LlamaCppTeacher.load({ ...options, name: teacherName }),
  }),
  definePlugin({
    kind: 'teacher',
    name: 'llama-cpp-topk',
    description: 'A local GGUF model as a white-box teacher: top-k next-token log-probabilities under teacher forcing',
    configSchema: topKSchema,
    create: async ({ k, teacherName, ...options }) =>
      new LlamaCppTopKTeacher(await LlamaCppTeacher.load({ ...options, name: teacherName }), k),
  }),
];
