import { earlyStoppingSchema } from '@distillery/core';
import { z } from 'zod';

/** `"name"` or `{ "name": "...", ...settings }`: a part resolved through the plugin registry. */
export const pluginSpecSchema = z.union([
  z.string().min(1).describe('a plugin name'),
  z.looseObject({ name: z.string().min(1).describe('the plugin name') }).describe('a plugin name with its settings'),
]);

/** A hyper-parameter: a plain number (constant at every step) or a scheduler plugin spec. */
export const scheduleSchema = z.union([
  z.number().describe('the same value at every step'),
  pluginSpecSchema.describe('a scheduler: "constant" | "linear" | "cosine" | "step" | "warmup" | a plugin\'s'),
]);

export const distillConfigSchema = z
  .object({
    $schema: z.string().optional().describe('path or URL of this schema (editor completion)'),
    description: z.string().optional(),
    plugins: z
      .array(z.string().min(1))
      .default([])
      .describe('packages (or ./files) whose `plugins` export adds parts: loaded before anything resolves'),
    seed: z.number().int().min(0).default(0).describe('data order and default initialisation seed'),
    output: z.string().min(1).optional().describe('the run folder, relative to this file (default: <config name>.run beside it)'),
    data: z
      .object({
        train: pluginSpecSchema.describe('a dataset plugin: "mnist" | "jsonl" | "csv" | "text" (a language model) | a plugin\'s'),
        validation: pluginSpecSchema.optional().describe('held-out data evaluated after every epoch'),
        useLabels: z.boolean().default(true).describe('false: an unlabelled transfer set (soft targets only)'),
      })
      .strict(),
    teacher: pluginSpecSchema
      .optional()
      .describe(
        'a teacher plugin: "model" (a saved model file) | "trained" (train one first) | "ensemble" | "cache" (an offline teacher cache) | "gguf" (a Llama GGUF, text data) | a plugin\'s; absent: train the student from scratch',
      ),
    student: pluginSpecSchema.describe('a student plugin: "mlp" | "model" (a saved model file) | "llama" (text data) | a plugin\'s'),
    loss: z
      .object({
        divergence: z.enum(['forward-kl', 'reverse-kl', 'jsd']).default('forward-kl'),
        temperature: scheduleSchema.default(4),
        softWeight: scheduleSchema.default(1),
        hardWeight: scheduleSchema.optional().describe('default 0.1 when the training data has labels (Hinton: both terms), else 0'),
        beta: scheduleSchema.optional().describe('the JSD mixture weight'),
        hidden: z
          .object({
            student: z
              .string()
              .min(1)
              .default('norm')
              .describe('the student hidden state: "norm" (the final RMSNorm output) | "blocks.{l}" (after block l)'),
            teacher: z.string().min(1).default('norm').describe("the teacher's hidden state matched (same names)"),
            loss: z.enum(['mse', 'cosine']).default('mse'),
            weight: scheduleSchema.default(1).describe("the term's weight"),
          })
          .strict()
          .optional()
          .describe(
            "text data with a WebGPU teacher only: also match a hidden state (through a learned projection from the student's width to the teacher's)",
          ),
      })
      .strict()
      .default({ divergence: 'forward-kl', temperature: 4, softWeight: 1 }),
    optimizer: z
      .looseObject({ name: z.string().min(1).default('adamw'), lr: scheduleSchema.default(1e-3) })
      .default({ name: 'adamw', lr: 1e-3 })
      .describe('an optimizer plugin ("adamw" | "sgd" | a plugin\'s) with its settings and `lr`'),
    training: z
      .object({
        epochs: z.number().int().min(1).optional().describe('passes over the training data (a classifier needs it; an LM: this or steps)'),
        steps: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('text data only, instead of epochs: exactly this many batches (the windows cycle in a new shuffled order each pass)'),
        batchSize: z.number().int().min(1).default(64).describe('rows per batch; text data: sequences of `context` tokens per batch'),
        context: z.number().int().min(1).optional().describe('text data only: tokens per training sequence (default 64)'),
        evaluateEverySteps: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('text data with steps: evaluate every this many steps (a divisor of steps; default once, at the end)'),
        fusedHead: z
          .union([
            z.boolean(),
            z.object({ chunkRows: z.number().int().min(1).describe('token rows per chunk of the fused head') }).strict(),
          ])
          .optional()
          .describe(
            'text data with a teacher only: the fused linear + KD loss (the LM head applied chunk by chunk inside the loss; no [rows, vocab] logits)',
          ),
      })
      .strict(),
    sample: z
      .object({
        prompt: z.string().default('Once upon a time'),
        maxTokens: z.number().int().min(1).default(48),
      })
      .strict()
      .optional()
      .describe('text data only: the greedy continuation of `prompt` by the trained student, kept in summary.json (default shown)'),
    checkpoint: z
      .object({
        everySteps: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('also checkpoint every this many steps (a checkpoint is always written on stop, on an early stop and at the end)'),
      })
      .strict()
      .default({}),
    earlyStopping: z.optional(earlyStoppingSchema),
    callbacks: z.array(pluginSpecSchema).default([]).describe('more callback plugins: "best-model" | a plugin\'s'),
    logs: z
      .object({
        metrics: z.boolean().default(true).describe('metrics.jsonl and metrics.csv: one row per step and per evaluation'),
        curves: z.boolean().default(true).describe('SVG training curves at the end of the run'),
      })
      .strict()
      .default({ metrics: true, curves: true }),
    compare: z
      .object({
        seeds: z.array(z.number().int().min(0)).min(1).describe('repeat the run once per seed (each replaces `seed`)'),
        scratch: z
          .boolean()
          .default(true)
          .describe(
            'also train the student from scratch on the labels (no teacher; text data: next-token cross-entropy on the same documents)',
          ),
        unlabelled: z
          .boolean()
          .optional()
          .describe(
            'also distil the student with no labels (soft targets only); default true for classifier data; text data: absent or false (every token is a label)',
          ),
      })
      .strict()
      .optional()
      .describe(
        "`distillery demo`'s comparison: per seed the teacher, the distilled student and these baselines, each in its own run folder (seed-N/…), then the table of test errors (text data: validation nats/token) and the share of the teacher–scratch gap distillation recovers",
      ),
    export: z
      .object({
        path: z.string().min(1).default('student.safetensors').describe('relative to the run folder'),
        verify: z
          .boolean()
          .default(false)
          .describe(
            'text data only: load student.gguf in llama.cpp (node-llama-cpp, 1 thread) and compare its log-probabilities and greedy text with the WebGPU student (summary.json `lm.verify`)',
          ),
      })
      .strict()
      .default({ path: 'student.safetensors', verify: false })
      .describe(
        'where the trained student is saved (an nn model file: loadModel reads it); a Llama student also as student.gguf and hf/ beside it',
      ),
  })
  .strict();

export type DistillConfig = z.output<typeof distillConfigSchema>;
export type DistillConfigInput = z.input<typeof distillConfigSchema>;
