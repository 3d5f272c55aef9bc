import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createRegistry,
  DistilleryError,
  parseConfig,
  type PluginRegistry,
  type PluginSpec,
  type RunSummary,
  type Student,
  type WhiteBoxTeacher,
} from '@distillery/core';
import { FileCheckpointStore, readUserFile, writeFileAtomic } from '@distillery/core/node';
import { plugins as lossPlugins } from '@distillery/kernels';
import { saveModel, type SavableModel } from '@distillery/nn/node';
import { acquireDevice, type GpuTensor } from '@distillery/webgpu';
import {
  distill,
  evaluateClassifier,
  ModelTeacher,
  type ClassificationData,
  type ClassifierMetrics,
  type TransferBatch,
} from '@distillery/white-box';
import { parse as parseYaml } from 'yaml';
import type { CliIO } from '../command.js';
import { distillConfigSchema, type DistillConfig } from './config.js';
import { checkDistillConfig, classifierTraining, comparedTeacher } from './config-checks.js';
import { isTextDocuments, type TextDocuments } from './lm-plugins.js';
import { distillPlugins, type DistillContext, type TrainedTeacherInfo } from './plugins.js';
import { runLmDistillation, type LmRunReport } from './run-lm.js';
import { checkExportPath, exportedPath } from './export-path.js';
import { adapterName, createCallbacks, createOptimizer, schedule } from './run-parts.js';

export { adapterName } from './run-parts.js';

/** The registry `distillery distill` resolves parts from: core's, the kernels' losses and the runner's own. */
export function createDistillRegistry(): PluginRegistry {
  return createRegistry().register(...lossPlugins, ...distillPlugins);
}

/** Reads a JSON or YAML config file (E_NOT_FOUND, E_BAD_INPUT with the file named). */
export async function readConfigFile(path: string): Promise<unknown> {
  const text = await readUserFile(path, 'config', 'utf8');
  try {
    return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new DistilleryError(
      'E_BAD_INPUT',
      `config file ${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message}`,
      { field: 'config', value: path },
      { cause: error },
    );
  }
}

export interface DistillRunOptions {
  io: CliIO;
  /** Set by `compare`'s runs: the teacher must be one whose own validation metrics can be measured (the teacher row). */
  comparison?: boolean;
  /** Start over: ignore (and replace) the run folder's checkpoint. */
  fresh?: boolean;
  /** Overrides the run folder (`output` in the config). */
  output?: string;
}

export interface DistillRunResult {
  runDir: string;
  summary: RunSummary;
  validation?: Record<string, number>;
  /** The teacher evaluated on the validation data (a model teacher, with validation data), and its training time when this run trained it. */
  teacher?: { validation?: ClassifierMetrics; seconds?: number };
  /** A language-model run: the teacher's own validation metrics, the files exported and the student's greedy sample. */
  lm?: LmRunReport;
  /** Wall-clock seconds this invocation spent training the student (0 for a finished run reported again). */
  seconds: number;
  /** The WebGPU adapter the run used. */
  adapter: string;
  /** Rows of the training (transfer) and validation data. */
  rows: { train: number; validation?: number };
  files: string[];
}

async function loadPlugins(registry: PluginRegistry, specifiers: readonly string[], configDir: string, io: CliIO): Promise<void> {
  for (const [i, specifier] of specifiers.entries()) {
    const isFile = specifier.startsWith('.') || isAbsolute(specifier);
    if (isFile) {
      const file = resolve(configDir, specifier);
      io.stderr(`distill: plugins[${i}] is a file: running code from ${file}\n`);
      await registry.loadPackage(pathToFileURL(file).href);
    } else {
      await registry.loadPackage(specifier);
    }
  }
}

/** The run folder: `--output`, else the config's `output` (relative to the file), else `<config name>.run` beside it. */
export function resolveRunDir(config: Pick<DistillConfig, 'output'>, configPath: string, output?: string): string {
  const configDir = dirname(configPath);
  return resolve(
    output ?? (config.output ? resolve(configDir, config.output) : join(configDir, `${basename(configPath, extname(configPath))}.run`)),
  );
}

/** A model teacher's own validation metrics, and its training time when the `trained` plugin trained it in this run folder. */
async function reportTeacher(
  teacher: ModelTeacher<TransferBatch>,
  validation: ClassificationData | undefined,
  runDir: string,
): Promise<{ validation?: ClassifierMetrics; seconds?: number }> {
  const trained = await readFile(join(runDir, 'teacher.json'), 'utf8').then(
    (text) => JSON.parse(text) as Partial<TrainedTeacherInfo>,
    () => undefined,
  );
  return {
    ...(validation ? { validation: await evaluateClassifier(teacher.model, validation) } : {}),
    ...(typeof trained?.seconds === 'number' ? { seconds: trained.seconds } : {}),
  };
}

/**
 * A comparison's teacher row for a "cache" teacher: the model file the cache was built from,
 * evaluated on the validation data (then released: the run is over).
 */
async function reportCacheBuildTeacher(
  registry: PluginRegistry,
  spec: PluginSpec,
  context: DistillContext & Record<string, unknown>,
  validation: ClassificationData,
): Promise<{ validation: ClassifierMetrics } | undefined> {
  const measured = comparedTeacher(spec);
  if (measured === 'self') return undefined;
  const teacher = await registry.create<unknown>('teacher', measured.build, { path: 'teacher.build', context });
  if (!(teacher instanceof ModelTeacher)) return undefined;
  try {
    return { validation: await evaluateClassifier(teacher.model, validation) };
  } finally {
    (teacher.model as { release?: () => void }).release?.();
  }
}

/**
 * Runs the distillation a config describes: every part by name through the plugin registry,
 * checkpoints in the run folder (a rerun resumes), logs and curves, the exported student.
 */
export async function runDistillConfig(raw: unknown, configPath: string, options: DistillRunOptions): Promise<DistillRunResult> {
  const config: DistillConfig = parseConfig(distillConfigSchema, raw);
  const configDir = dirname(configPath);
  const runDir = resolveRunDir(config, configPath, options.output);
  const registry = createDistillRegistry();
  await loadPlugins(registry, config.plugins, configDir, options.io);
  checkDistillConfig(registry, config, { comparison: options.comparison });
  await checkExportPath(config, runDir);
  const createdRunDir = (await mkdir(runDir, { recursive: true })) !== undefined;
  const { device, info } = await acquireDevice({ label: 'distillery-distill' });
  try {
    const context: DistillContext & Record<string, unknown> = { device, configDir, runDir, io: options.io, seed: config.seed };
    const data = await registry.create<ClassificationData | TextDocuments>('dataset', config.data.train, { path: 'data.train', context });
    if (isTextDocuments(data))
      return await runLmDistillation({ config, configPath, runDir, options, registry, context, train: data, adapter: adapterName(info) });
    const train = data;
    const epochs = classifierTraining(config);
    context.train = train;
    const validation = config.data.validation
      ? await registry.create<ClassificationData>('dataset', config.data.validation, { path: 'data.validation', context })
      : undefined;
    context.validation = validation;
    const teacher = config.teacher
      ? await registry.create<WhiteBoxTeacher<TransferBatch, GpuTensor>>('teacher', config.teacher, { path: 'teacher', context })
      : undefined;
    const student = await registry.create<Student<TransferBatch, GpuTensor> & SavableModel>('student', config.student, {
      path: 'student',
      context,
    });
    context.student = student;
    const optimizer = await createOptimizer<never>(registry, config, context);
    const callbacks = await createCallbacks(registry, config, { io: options.io, runDir, configPath, context });
    const { loss } = config;
    await writeFileAtomic(join(runDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    const started = performance.now();
    const result = await distill({
      teacher,
      student,
      data: { train, validation },
      useLabels: config.data.useLabels,
      epochs,
      batchSize: config.training.batchSize,
      seed: config.seed,
      lr: await schedule(registry, config.optimizer.lr, 'optimizer.lr'),
      temperature: await schedule(registry, loss.temperature, 'loss.temperature'),
      softWeight: await schedule(registry, loss.softWeight, 'loss.softWeight'),
      ...(loss.hardWeight !== undefined ? { hardWeight: await schedule(registry, loss.hardWeight, 'loss.hardWeight') } : {}),
      loss: { divergence: loss.divergence },
      optimizer,
      checkpoint: { store: new FileCheckpointStore(join(runDir, 'checkpoint.safetensors')), everySteps: config.checkpoint.everySteps },
      callbacks,
      resume: !options.fresh,
    });
    const seconds = (performance.now() - started) / 1000;
    const exported = exportedPath(config, runDir);
    await saveModel(exported, student);
    const teacherReport =
      teacher instanceof ModelTeacher
        ? await reportTeacher(teacher, validation, runDir)
        : options.comparison && validation && config.teacher
          ? await reportCacheBuildTeacher(registry, config.teacher, context, validation)
          : undefined;
    const summary = {
      summary: result.summary,
      validation: result.validation,
      ...(teacherReport ? { teacher: teacherReport } : {}),
      student: exported,
    };
    await writeFileAtomic(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return {
      runDir,
      summary: result.summary,
      ...(result.validation ? { validation: { ...result.validation } } : {}),
      ...(teacherReport ? { teacher: teacherReport } : {}),
      seconds,
      adapter: adapterName(info),
      rows: { train: train.rows, ...(validation ? { validation: validation.rows } : {}) },
      files: (await readdir(runDir)).sort(),
    };
  } catch (error) {
    // A run that failed before writing anything (a missing data file, a teacher that will not load)
    // leaves no folder it created: rmdir removes only an empty one, so nothing a run wrote is lost.
    if (createdRunDir) await rmdir(runDir).catch(() => {});
    throw error;
  } finally {
    device.destroy();
  }
}
