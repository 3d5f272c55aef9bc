import { basename, extname } from 'node:path';
import { badValue, definePlugin, DistilleryError, type PluginContext } from '@distillery/core';
import { readUserFile } from '@distillery/core/node';
import { LlamaLm, llamaStudentConfig } from '@distillery/nn';
import { loadModel } from '@distillery/nn/node';
import { z } from 'zod';
import { splitStories } from '../distill-lm/corpus.js';
import { vendored } from '../distill-lm/defaults.js';
import { readLlamaVocabulary, type LlamaVocabulary } from '../distill-lm/vocabulary.js';

export type { LlamaVocabulary } from '../distill-lm/vocabulary.js';
import { distillContext, inConfigDir, type DistillContext } from './context.js';

/*
 * The language-model parts of `distillery distill`: a text dataset (raw documents, tokenised once
 * the teacher's or student's tokenizer is known), a GGUF teacher and a Llama student. The runner
 * (run-lm.ts) takes the LM path when the training data is `TextDocuments`.
 */

/** What the `text` dataset yields: raw documents. */
export interface TextDocuments {
  readonly kind: 'text-documents';
  readonly documents: readonly string[];
  /** The file they were read from. */
  readonly file: string;
  /** Documents in the file (train and held out together). */
  readonly total: number;
}

export function isTextDocuments(data: unknown): data is TextDocuments {
  return typeof data === 'object' && data !== null && (data as { kind?: unknown }).kind === 'text-documents';
}

/** What the `gguf` teacher yields: the model on WebGPU and its vocabulary. */
export interface LlamaTeacherPart {
  readonly kind: 'llama-teacher';
  readonly name: string;
  readonly model: LlamaLm;
  readonly vocabulary: LlamaVocabulary;
}

/** What the `llama` student yields. */
export interface LlamaStudentPart {
  readonly kind: 'llama-student';
  readonly model: LlamaLm;
  readonly vocabulary: LlamaVocabulary;
}

export const isLlamaTeacher = (part: unknown): part is LlamaTeacherPart => (part as { kind?: unknown })?.kind === 'llama-teacher';
export const isLlamaStudent = (part: unknown): part is LlamaStudentPart => (part as { kind?: unknown })?.kind === 'llama-student';

/** The LM settings the runner hands the teacher and student plugins (beside `DistillContext`). */
export interface LmPluginContext {
  /** Tokens per training sequence (`training.context`). */
  tokens: number;
  /** The training documents (the `cache` teacher tokenises them into the windows it stores). */
  documents: readonly string[];
  /** The teacher, once created: its vocabulary is the student's. */
  teacher?: { readonly vocabulary: LlamaVocabulary };
}

function lmContext(ctx: PluginContext, plugin: string): DistillContext & { lm: LmPluginContext } {
  const context = distillContext(ctx) as DistillContext & { lm?: LmPluginContext };
  if (!context.lm)
    throw new DistilleryError('E_BAD_CONFIG', `${plugin} is a language-model part: data.train must be text (the "text" dataset)`, {
      field: 'data.train',
      expected: 'a text dataset',
    });
  return context as DistillContext & { lm: LmPluginContext };
}

// ---- text -------------------------------------------------------------------------------------

const textSchema = z
  .object({
    path: z.string().min(1).optional().describe('a UTF-8 text file; default the vendored TinyStories excerpt (2,316 stories)'),
    separator: z.string().min(1).default('<|endoftext|>').describe('what separates documents'),
    split: z.enum(['train', 'validation']).default('train').describe('the documents before the held-out tail, or the tail'),
    heldOutFraction: z.number().gt(0).lt(1).default(0.1).describe("the file's last fraction of documents, held out for validation"),
    documents: z.number().int().min(1).optional().describe("the split's first N documents only (a smaller, faster run)"),
  })
  .strict();

const textPlugin = definePlugin({
  kind: 'dataset',
  name: 'text',
  description:
    'Documents of a text file split on a separator (default the vendored TinyStories excerpt, `<|endoftext|>`), the last `heldOutFraction` held out: trains a language model.',
  configSchema: textSchema,
  create: async (config, ctx): Promise<TextDocuments> => {
    const context = distillContext(ctx);
    const file = config.path ? inConfigDir(context, config.path) : vendored.corpus();
    const text = await readUserFile(file, 'path', 'utf8');
    const limit = config.documents;
    const split = splitStories(text, {
      separator: config.separator,
      heldOutFraction: config.heldOutFraction,
      trainStories: limit,
      evalStories: limit,
      file,
    });
    const documents = config.split === 'train' ? split.train : split.heldOut;
    return { kind: 'text-documents', documents, file, total: split.total };
  },
});

// ---- teacher ----------------------------------------------------------------------------------

const ggufTeacherSchema = z
  .object({
    path: z.string().min(1).optional().describe('a Llama-family GGUF (llama.cpp); default the vendored stories260K.gguf'),
  })
  .strict();

const ggufTeacherPlugin = definePlugin({
  kind: 'teacher',
  name: 'gguf',
  description: 'A Llama-family GGUF run on WebGPU (F32/F16/BF16/Q8_0) with its tokenizer; default the vendored stories260K.',
  configSchema: ggufTeacherSchema,
  create: async (config, ctx): Promise<LlamaTeacherPart> => {
    const context = lmContext(ctx, 'teacher gguf');
    const path = config.path ? inConfigDir(context, config.path) : vendored.teacher();
    const vocabulary = await readLlamaVocabulary(path);
    if (context.lm.tokens > vocabulary.settings.context)
      throw badValue('training.context', context.lm.tokens, `at most the teacher's context (${vocabulary.settings.context}, ${path})`);
    const model = LlamaLm.fromGguf(context.device, vocabulary.file, { context: context.lm.tokens });
    return { kind: 'llama-teacher', name: basename(path).replace(/\.gguf$/i, ''), model, vocabulary };
  },
});

// ---- student ----------------------------------------------------------------------------------

const llamaStudentSchema = z
  .object({
    width: z.number().int().min(1).optional().describe('model width (a multiple of heads); with layers and heads: a new student'),
    layers: z.number().int().min(1).optional(),
    heads: z.number().int().min(1).optional(),
    kvHeads: z.number().int().min(1).optional().describe('key/value heads (grouped-query attention); default heads'),
    ffn: z.number().int().min(1).optional().describe("feed-forward width; default the teacher's ffn/width ratio"),
    seed: z.number().int().min(0).optional().describe("initialisation seed; default the run's seed"),
    path: z.string().min(1).optional().describe('instead of a size: a saved nn Llama (.safetensors) or a GGUF to fine-tune'),
    tokenizer: z
      .string()
      .min(1)
      .optional()
      .describe(
        'without a teacher: the GGUF whose tokenizer (and RoPE/norm settings) the student uses; default the vendored stories260K.gguf',
      ),
  })
  .strict();

async function studentVocabulary(
  context: DistillContext & { lm: LmPluginContext },
  tokenizer: string | undefined,
): Promise<LlamaVocabulary> {
  if (context.lm.teacher) {
    if (tokenizer !== undefined) throw badValue('student.tokenizer', tokenizer, "absent with a teacher (the student shares the teacher's)");
    return context.lm.teacher.vocabulary;
  }
  return readLlamaVocabulary(tokenizer ? inConfigDir(context, tokenizer) : vendored.teacher());
}

async function loadStudentFile(context: DistillContext & { lm: LmPluginContext }, path: string, tokenizer: string | undefined) {
  const file = inConfigDir(context, path);
  if (extname(file).toLowerCase() === '.gguf') {
    const vocabulary = await readLlamaVocabulary(file);
    const model = LlamaLm.fromGguf(context.device, vocabulary.file, { context: Math.min(context.lm.tokens, vocabulary.settings.context) });
    return { model, vocabulary: context.lm.teacher?.vocabulary ?? vocabulary };
  }
  const model = await loadModel(context.device, file);
  if (!(model instanceof LlamaLm)) throw badValue('student.path', path, 'a Llama model file (saved by distillery distill) or a GGUF');
  return { model, vocabulary: await studentVocabulary(context, tokenizer) };
}

const llamaStudentPlugin = definePlugin({
  kind: 'student',
  name: 'llama',
  description:
    "A Llama student sharing the teacher's vocabulary, RoPE base and norm ε: a new one of `width`/`layers`/`heads` (kvHeads, ffn), or `path` to fine-tune.",
  configSchema: llamaStudentSchema,
  create: async (config, ctx): Promise<LlamaStudentPart> => {
    const context = lmContext(ctx, 'student llama');
    const { width, layers, heads, kvHeads, ffn, path, tokenizer } = config;
    const sized = width !== undefined || layers !== undefined || heads !== undefined;
    if (path !== undefined) {
      if (sized) throw badValue('student.path', path, 'either a path or a size (width, layers, heads), not both');
      const loaded = await loadStudentFile(context, path, tokenizer);
      if (loaded.model.settings.context < context.lm.tokens)
        throw badValue('training.context', context.lm.tokens, `at most the student's context (${loaded.model.settings.context}, ${path})`);
      return { kind: 'llama-student', ...loaded };
    }
    if (width === undefined || layers === undefined || heads === undefined)
      throw badValue('student', { width, layers, heads }, 'width, layers and heads (a new student) or path (a saved one)');
    if (width % heads !== 0) throw badValue('student.width', width, `a multiple of heads (${heads})`);
    const vocabulary = await studentVocabulary(context, tokenizer);
    const model = LlamaLm.create(
      context.device,
      llamaStudentConfig(
        vocabulary.settings,
        { width, layers, heads, kvHeads, ffn },
        { context: context.lm.tokens, seed: config.seed ?? context.seed + 7 },
      ),
    );
    return { kind: 'llama-student', model, vocabulary };
  },
});

/** The language-model parts `distillery distill` knows by name. */
export const lmPlugins = [textPlugin, ggufTeacherPlugin, llamaStudentPlugin];
