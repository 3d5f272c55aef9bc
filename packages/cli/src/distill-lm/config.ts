import { readFile } from 'node:fs/promises';
import { DistilleryError, isDistilleryError, parseConfig } from '@distillery/core';
import { z } from 'zod';

const int = z.number().int();

export const DISTILL_LM_METHODS = ['scratch', 'kd', 'kd-topk-cache', 'kd-hidden'] as const;
export type DistillLmMethod = (typeof DISTILL_LM_METHODS)[number];

/** One student architecture: a Llama with the teacher's tokenizer (vocabulary, RoPE base, RMSNorm ε). */
export const studentSizeSchema = z
  .object({
    /** Folder and table name, e.g. `w32-l2`. */
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"'),
    width: int.positive(),
    layers: int.positive(),
    heads: int.positive(),
    /** Key/value heads (grouped-query attention); must divide `heads`. Default: `heads`. */
    kvHeads: int.positive().optional(),
    /** SwiGLU hidden width. Default: the teacher's ratio (172 / 64) times `width`, rounded. */
    ffn: int.positive().optional(),
  })
  .strict()
  .refine((s) => s.width % s.heads === 0, { message: 'width must be a multiple of heads', path: ['heads'] })
  .refine((s) => s.kvHeads === undefined || s.heads % s.kvHeads === 0, { message: 'kvHeads must divide heads', path: ['kvHeads'] });

export type StudentSize = z.output<typeof studentSizeSchema>;

export const distillLmConfigSchema = z
  .object({
    /** Teacher GGUF (Llama family), relative to the config file. Default: the vendored stories260K.gguf. */
    teacher: z.string().min(1).optional(),
    corpus: z
      .object({
        /** A text file of stories separated by `separator`, relative to the config. Default: the vendored TinyStories excerpt. */
        path: z.string().min(1).optional(),
        separator: z.string().min(1).default('<|endoftext|>'),
        /** The last this fraction of the stories is held out for evaluation. */
        heldOutFraction: z.number().gt(0).lt(1).default(0.1),
        /** Train on the first N training stories only (default all). */
        trainStories: int.positive().optional(),
        /** Evaluate on the first N held-out stories only (default all). */
        evalStories: int.positive().optional(),
      })
      .strict()
      .prefault({}),
    /** Tokens per training and evaluation window (at most the teacher's trained context, 512 for stories260K). */
    context: int.min(8).default(128),
    students: z.array(studentSizeSchema).min(1),
    methods: z
      .array(z.enum(DISTILL_LM_METHODS))
      .min(1)
      .default([...DISTILL_LM_METHODS]),
    /** One run per size, method and seed; the seed sets the student's initialisation and the data order. */
    seeds: z.array(int.min(0).max(0xffffffff)).min(1).default([0, 1, 2]),
    /** Optimiser steps of every run (equal across methods). */
    steps: int.positive(),
    /** Sequences (windows of `context` tokens) per step. */
    sequences: int.positive().default(8),
    optimizer: z
      .object({
        lr: z.number().positive().default(3e-3),
        warmupSteps: int.min(1).default(20),
        /** The cosine schedule ends at lr × this. */
        finalLrFraction: z.number().min(0).max(1).default(0.1),
        weightDecay: z.number().min(0).default(0.01),
        clipNorm: z.number().min(0).default(1),
      })
      .strict()
      .prefault({}),
    kd: z
      .object({
        temperature: z.number().positive().default(2),
        /** Weight of the hard next-token CE next to the soft term (weight 1). */
        hardWeight: z.number().min(0).default(0.5),
      })
      .strict()
      .prefault({}),
    topk: z
      .object({
        /** Log-probabilities kept per position in the offline cache (DistillKit keeps a few dozen). */
        k: int.min(1).max(512).default(32),
        /** llama.cpp CPU threads while building the cache. */
        threads: int.min(1).default(1),
      })
      .strict()
      .prefault({}),
    hidden: z
      .object({
        /** Student hidden state matched (`norm`: the final RMSNorm output; `blocks.{l}`: after block l). */
        student: z.string().min(1).default('norm'),
        teacher: z.string().min(1).default('norm'),
        loss: z.enum(['mse', 'cosine']).default('mse'),
        weight: z.number().min(0).default(1),
      })
      .strict()
      .prefault({}),
    evaluate: z
      .object({
        /** Windows per evaluation forward. */
        sequences: int.positive().default(16),
        /** Greedy sample: prompt (after BOS) and tokens generated. */
        prompt: z.string().default('Once upon a time'),
        sampleTokens: int.min(1).default(48),
      })
      .strict()
      .prefault({}),
    export: z
      .object({
        /** Write trained students as GGUF and Hugging Face safetensors: every run, the best run per size, or none. */
        which: z.enum(['all', 'best', 'none']).default('best'),
        /** Load each exported GGUF in node-llama-cpp and compare its log-probabilities with the WebGPU forward. */
        verify: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    checkpointEvery: int.positive().default(100),
    /** Output folder, relative to the config (default: `distill-lm-runs` beside it). */
    output: z.string().min(1).default('distill-lm-runs'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.students.forEach((s, i) => {
      if (names.has(s.name))
        ctx.addIssue({ code: 'custom', message: `duplicate student name ${JSON.stringify(s.name)}`, path: ['students', i, 'name'] });
      names.add(s.name);
    });
    if (new Set(c.seeds).size !== c.seeds.length) ctx.addIssue({ code: 'custom', message: 'seeds must be distinct', path: ['seeds'] });
    if (new Set(c.methods).size !== c.methods.length)
      ctx.addIssue({ code: 'custom', message: 'methods must be distinct', path: ['methods'] });
  });

export type DistillLmConfig = z.input<typeof distillLmConfigSchema>;
export type DistillLmSettings = z.output<typeof distillLmConfigSchema>;

/** Validates a parsed config; errors name the file, the field and the value. */
export function parseDistillLmConfig(value: unknown, file = 'config'): DistillLmSettings {
  try {
    return parseConfig(distillLmConfigSchema, value);
  } catch (error) {
    if (isDistilleryError(error))
      throw new DistilleryError(
        error.code,
        `${file}: ${error.message.slice(error.code.length + 2)}`,
        { ...error.details, file },
        { cause: error },
      );
    throw error;
  }
}

export async function readDistillLmConfig(path: string): Promise<DistillLmSettings> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new DistilleryError('E_NOT_FOUND', `config file ${path} cannot be read`, { field: 'config', value: path, file: path });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const where = /position \d+(?: \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    throw new DistilleryError('E_BAD_CONFIG', `config file ${path} is not valid JSON${where ? ` (at ${where})` : ''}`, {
      field: 'config',
      value: path,
      file: path,
    });
  }
  return parseDistillLmConfig(value, path);
}

/**
 * `--quick`: the first student and seed, a few steps on a slice of the corpus, every method, the
 * first run exported and checked; sized to finish well inside CI's two minutes.
 */
export function quickSettings(s: DistillLmSettings): DistillLmSettings {
  return {
    ...s,
    corpus: { ...s.corpus, trainStories: Math.min(s.corpus.trainStories ?? 24, 24), evalStories: Math.min(s.corpus.evalStories ?? 4, 4) },
    context: Math.min(s.context, 64),
    students: [s.students[0]!],
    seeds: [s.seeds[0]!],
    steps: Math.min(s.steps, 6),
    sequences: Math.min(s.sequences, 4),
    optimizer: { ...s.optimizer, warmupSteps: Math.min(s.optimizer.warmupSteps, 2) },
    evaluate: { ...s.evaluate, sampleTokens: Math.min(s.evaluate.sampleTokens, 12) },
    export: { ...s.export, which: s.export.which === 'none' ? 'none' : 'best' },
    checkpointEvery: Math.min(s.checkpointEvery, 3),
  };
}
