import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import {
  badValue,
  deriveSeed,
  DistilleryError,
  pluginName,
  type Loss,
  type Optimizer,
  type PluginRegistry,
  type PluginSpec,
} from '@distillery/core';
import { FileCheckpointStore, writeFileAtomic } from '@distillery/core/node';
import { CrossEntropyLoss, KdLoss } from '@distillery/kernels';
import { asTeacher, sampleTokens } from '@distillery/nn';
import { saveModel, writeHuggingFaceFolder } from '@distillery/nn/node';
import type { GpuTensor } from '@distillery/webgpu';
import {
  evaluateLanguageModel,
  HiddenStateMatch,
  LmDistiller,
  TokenWindows,
  type LanguageModelMetrics,
  type TokenCorpus,
} from '@distillery/white-box';
import { checkGgufInLlamaCpp, type GgufCheck } from '../lm/gguf-check.js';
import type { DistillConfig } from './config.js';
import { exportedPath } from './export-path.js';
import { comparedLmTeacher, lmTeacherSettings, lmTraining } from './config-checks.js';
import type { DistillContext } from './context.js';
import {
  isLlamaStudent,
  isLlamaTeacher,
  isTextDocuments,
  type LlamaStudentPart,
  type LlamaTeacherPart,
  type LmPluginContext,
  type TextDocuments,
} from './lm-plugins.js';
import type { DistillRunOptions, DistillRunResult } from './run.js';
import { isLlamaCacheTeacher, type LlamaCacheTeacherPart } from './cache-teacher-lm.js';
import { createCallbacks, createOptimizer, schedule } from './run-parts.js';

/** A live GGUF teacher on WebGPU, or its offline top-k cache. */
type LmTeacherPart = LlamaTeacherPart | LlamaCacheTeacherPart;

export { DEFAULT_LM_CONTEXT } from './config-checks.js';
const DEFAULT_SAMPLE = { prompt: 'Once upon a time', maxTokens: 48 };

/** What a language-model run adds to the result and to summary.json. */
export interface LmRunReport {
  /** The teacher's name and its own metrics on the validation documents (the floor the student approaches). */
  teacher?: { name: string; validation?: LanguageModelMetrics };
  /** Tokens of the training and validation documents (the student's tokenizer, BOS first). */
  tokens: { train: number; validation?: number };
  /** The exported files: the nn model, the GGUF (llama.cpp, the tokenizer's) and the Hugging Face folder. */
  exported: { model: string; gguf: string; huggingFace: string };
  /** The trained student's greedy continuation of the prompt. */
  sample: { prompt: string; text: string };
  /** `export.verify`: student.gguf run by llama.cpp against the WebGPU student (validation windows, else training windows). */
  verify?: GgufCheck;
  parameters: number;
}

export interface LmRunInput {
  config: DistillConfig;
  configPath: string;
  runDir: string;
  options: DistillRunOptions;
  registry: PluginRegistry;
  context: DistillContext & Record<string, unknown>;
  train: TextDocuments;
  adapter: string;
}

async function lmParts(input: LmRunInput, tokens: number) {
  const { config, registry, context } = input;
  const lm: LmPluginContext = { tokens, documents: input.train.documents };
  context.lm = lm;
  const validation = config.data.validation
    ? await registry.create<unknown>('dataset', config.data.validation, { path: 'data.validation', context })
    : undefined;
  if (validation !== undefined && !isTextDocuments(validation))
    throw badValue('data.validation', pluginName(config.data.validation!), 'text documents, as data.train (a "text" dataset)');
  const teacher = config.teacher ? await registry.create<unknown>('teacher', config.teacher, { path: 'teacher', context }) : undefined;
  if (teacher !== undefined && !isLlamaTeacher(teacher) && !isLlamaCacheTeacher(teacher))
    throw badValue('teacher', pluginName(config.teacher!), 'a language-model teacher for text data ("gguf", or "cache" built by one)');
  lm.teacher = teacher;
  const student = await registry.create<unknown>('student', config.student, { path: 'student', context });
  if (!isLlamaStudent(student)) throw badValue('student', pluginName(config.student), 'a language-model student for text data ("llama")');
  context.student = student.model;
  return { validation, teacher, student };
}

function corpus(student: LlamaStudentPart, documents: readonly string[]): TokenCorpus {
  const { tokenizer } = student.vocabulary;
  return { documents: documents.map((d) => tokenizer.encode(d, { addBos: true })), vocab: student.model.vocabSize };
}

const tokenCount = (c: TokenCorpus) => c.documents.reduce((n, d) => n + d.length, 0);

async function lossAndSchedules(input: LmRunInput, teacher: LmTeacherPart | undefined) {
  const { config, registry } = input;
  const lr = await schedule(registry, config.optimizer.lr, 'optimizer.lr');
  lmTeacherSettings(config, config.teacher);
  // No teacher: plain next-token training (the scratch baseline); the loss section does not apply.
  if (!teacher) return { loss: new CrossEntropyLoss() as Loss<GpuTensor>, schedules: { lr } };
  const l = config.loss;
  const hardWeight = l.hardWeight ?? (config.data.useLabels ? 0.1 : 0);
  return {
    loss: new KdLoss({ divergence: l.divergence }) as Loss<GpuTensor>,
    schedules: {
      lr,
      temperature: await schedule(registry, l.temperature, 'loss.temperature'),
      softWeight: await schedule(registry, l.softWeight, 'loss.softWeight'),
      hardWeight: await schedule(registry, hardWeight, 'loss.hardWeight'),
      ...(l.beta !== undefined ? { beta: await schedule(registry, l.beta, 'loss.beta') } : {}),
      ...(l.hidden ? { [HIDDEN_WEIGHT]: await schedule(registry, l.hidden.weight, 'loss.hidden.weight') } : {}),
    },
  };
}

/** The hidden-state term's name in step events; its weight is the schedule `hidden:weight`. */
const HIDDEN_TERM = 'hidden';
const HIDDEN_WEIGHT = `${HIDDEN_TERM}:weight`;

/** `loss.hidden`: `HiddenStateMatch` through a learned projection (the widths differ), as distill-lm's kd-hidden. */
function hiddenLoss(input: LmRunInput, teacher: LmTeacherPart | undefined, student: LlamaStudentPart): HiddenStateMatch | undefined {
  const h = input.config.loss.hidden;
  if (!h || !teacher) return undefined;
  if (!isLlamaTeacher(teacher))
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `loss.hidden matches the teacher's hidden states, which teacher ${pluginName(input.config.teacher!)} (an offline cache of top-k log-probabilities) does not have`,
      { field: 'loss.hidden', value: h, expected: 'a "gguf" teacher (run on WebGPU)' },
    );
  const widths = { student: student.model.hiddenStateWidths(), teacher: teacher.model.hiddenStateWidths() };
  for (const side of ['student', 'teacher'] as const)
    if (widths[side][h[side]] === undefined)
      throw badValue(`loss.hidden.${side}`, h[side], `one of the ${side}'s hidden states: ${Object.keys(widths[side]).join(', ')}`);
  return new HiddenStateMatch({
    device: input.context.device,
    seed: deriveSeed(input.config.seed, 'hidden-projection'),
    pairs: [{ student: h.student, teacher: h.teacher, loss: h.loss, projection: true, name: HIDDEN_TERM }],
  });
}

/** The student as an nn model file, `student.gguf` (the tokenizer's file's vocabulary) and `hf/`, each written atomically. */
async function exportStudent(input: LmRunInput, student: LlamaStudentPart): Promise<LmRunReport['exported']> {
  const { config, runDir, configPath } = input;
  const model = exportedPath(config, runDir);
  await saveModel(model, student.model);
  const gguf = join(runDir, 'student.gguf');
  const name = `${basename(configPath, extname(configPath))}-student`;
  await writeFileAtomic(gguf, await student.model.toGguf({ tokenizerFrom: student.vocabulary.file, name }));
  const huggingFace = join(runDir, 'hf');
  await writeHuggingFaceFolder(huggingFace, await student.model.toHuggingFace(), { overwrite: true });
  return { model, gguf, huggingFace };
}

/**
 * A text comparison's teacher row for a "cache" teacher: the GGUF the cache is built from, evaluated
 * on the validation windows (then released: the run is over). Once per seed, in each seed's
 * distilled run, as the classifier's `reportCacheBuildTeacher`.
 */
async function evaluateCacheBuildTeacher(
  input: LmRunInput,
  spec: PluginSpec,
  windows: TokenWindows,
  sequences: number,
): Promise<LanguageModelMetrics | undefined> {
  const measured = comparedLmTeacher(spec);
  if (measured === 'self') return undefined;
  const teacher = await input.registry.create<unknown>('teacher', measured.build, { path: 'teacher.build', context: input.context });
  if (!isLlamaTeacher(teacher)) throw badValue('teacher.build', pluginName(measured.build), 'a "gguf" teacher');
  try {
    return await evaluateLanguageModel(teacher.model, windows, { sequences });
  } finally {
    teacher.model.release();
  }
}

/**
 * The language-model path of `distillery distill`: the text documents tokenised with the student's
 * tokenizer (the teacher's), `LmDistiller` with the config's loss, optimiser, callbacks and
 * checkpoints, per-token validation (nats/token, perplexity, agreement with the teacher), then the
 * teacher's own validation, a greedy sample and the exports.
 */
export async function runLmDistillation(input: LmRunInput): Promise<DistillRunResult> {
  const { config, runDir, options, context } = input;
  const training = lmTraining(config);
  const { validation, teacher, student } = await lmParts(input, training.context);
  const train = corpus(student, input.train.documents);
  const heldOut = validation && corpus(student, validation.documents);
  const teacherModel = teacher && (isLlamaTeacher(teacher) ? asTeacher(teacher.model, { name: teacher.name }) : teacher.teacher);
  const { loss, schedules } = await lossAndSchedules(input, teacher);
  const hidden = hiddenLoss(input, teacher, student);
  const optimizer = await createOptimizer<Optimizer<GpuTensor>>(input.registry, config, context);
  const callbacks = await createCallbacks(input.registry, config, {
    io: options.io,
    runDir,
    configPath: input.configPath,
    context,
    // A steps run is one "epoch" per evaluation: log a tenth of the way too, not only at evaluations.
    ...(training.steps !== undefined ? { progressEverySteps: Math.max(1, Math.ceil(training.steps / 10)) } : {}),
  });
  await writeFileAtomic(join(runDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const distiller = new LmDistiller({
    teacher: teacherModel,
    // A cache answers for the training windows only: no agreement on validation windows.
    teacherAgreement: !teacher || isLlamaTeacher(teacher),
    student: student.model,
    loss,
    hiddenLoss: hidden,
    optimizer,
    train,
    validation: heldOut,
    context: training.context,
    sequences: training.batchSize,
    epochs: training.epochs,
    steps: training.steps,
    evaluateEverySteps: training.evaluateEverySteps,
    seed: config.seed,
    schedules,
    ...(training.fusedHead ? { fusedHead: training.fusedHead } : {}),
    checkpoint: { store: new FileCheckpointStore(join(runDir, 'checkpoint.safetensors')), everySteps: config.checkpoint.everySteps },
    callbacks,
  });
  const started = performance.now();
  const summary = await distiller.run({ resume: !options.fresh });
  const seconds = (performance.now() - started) / 1000;
  const exported = await exportStudent(input, student);
  const validationWindows = () =>
    new TokenWindows(context.device, heldOut!, { context: training.context, sequences: 1, seed: config.seed });
  const teacherValidation =
    teacher && isLlamaTeacher(teacher) && heldOut
      ? await evaluateLanguageModel(teacher.model, validationWindows(), { sequences: training.batchSize })
      : options.comparison && heldOut && config.teacher
        ? await evaluateCacheBuildTeacher(input, config.teacher, validationWindows(), training.batchSize)
        : undefined;
  const sample = { ...DEFAULT_SAMPLE, ...config.sample };
  const { tokenizer } = student.vocabulary;
  const prompt = tokenizer.encode(sample.prompt, { addBos: true });
  const continuation = await sampleTokens(student.model, prompt, { maxTokens: sample.maxTokens, stopToken: tokenizer.eosTokenId });
  const sampleText = tokenizer.decode([...prompt, ...continuation]);
  const verify = config.export.verify
    ? await checkGgufInLlamaCpp({
        student: student.model,
        gguf: exported.gguf,
        windows: new TokenWindows(context.device, heldOut ?? train, { context: training.context, sequences: 1, seed: config.seed }),
        prompt: sample.prompt,
        promptTokens: prompt.length,
        maxTokens: sample.maxTokens,
        webGpuGreedy: async (tokens) =>
          tokenizer.decode([
            ...prompt,
            ...(await sampleTokens(student.model, prompt, { maxTokens: tokens, stopToken: tokenizer.eosTokenId })),
          ]),
        field: 'export.verify',
      })
    : undefined;
  if (verify)
    options.io.stderr(
      `distill: llama.cpp runs ${exported.gguf}: max |Δ log p| ${verify.maxAbsLogprobDiff.toExponential(2)} over ${verify.positions} positions, same greedy text: ${verify.sameText}\n`,
    );
  const lm: LmRunReport = {
    ...(teacher ? { teacher: { name: teacher.name, ...(teacherValidation ? { validation: teacherValidation } : {}) } } : {}),
    tokens: { train: tokenCount(train), ...(heldOut ? { validation: tokenCount(heldOut) } : {}) },
    exported,
    sample: { prompt: sample.prompt, text: sampleText },
    ...(verify ? { verify } : {}),
    parameters: student.model.parameterCount,
  };
  const validationMetrics = heldOut && Object.keys(summary.metrics).length > 0 ? { ...summary.metrics } : undefined;
  await writeFileAtomic(
    join(runDir, 'summary.json'),
    `${JSON.stringify({ summary, validation: validationMetrics, ...lm, student: exported.model }, null, 2)}\n`,
  );
  return {
    runDir,
    summary,
    ...(validationMetrics ? { validation: validationMetrics } : {}),
    lm,
    seconds,
    adapter: input.adapter,
    rows: { train: input.train.documents.length, ...(validation ? { validation: validation.documents.length } : {}) },
    files: (await readdir(runDir)).sort(),
  };
}
