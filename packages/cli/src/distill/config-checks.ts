import {
  badValue,
  DistilleryError,
  parseConfig,
  pluginName,
  type PluginKind,
  type PluginRegistry,
  type PluginSpec,
} from '@distillery/core';

import type { DistillConfig } from './config.js';

/*
 * What a `distillery distill` config can be refused for before the first GPU work: a mistake found
 * after minutes of training (an unknown metric at the first evaluation, a comparison that cannot
 * measure its teacher after the distilled run) costs the user the run.
 */

/** Tokens per training sequence when `training.context` is absent. */
export const DEFAULT_LM_CONTEXT = 64;

const settingsOf = (spec: PluginSpec): Record<string, unknown> => (typeof spec === 'string' ? {} : spec);

/** The classifier path's `training.epochs`, and no language-model-only setting. */
export function classifierTraining(config: DistillConfig): number {
  const t = config.training;
  for (const [key, value] of Object.entries({ steps: t.steps, context: t.context, evaluateEverySteps: t.evaluateEverySteps }))
    if (value !== undefined) throw badValue(`training.${key}`, value, 'absent: it applies to text data (a language model) only');
  if (config.sample !== undefined) throw badValue('sample', config.sample, 'absent: it applies to text data (a language model) only');
  if (t.fusedHead !== undefined)
    throw badValue('training.fusedHead', t.fusedHead, 'absent: it applies to text data (a language model) only');
  if (config.loss.hidden !== undefined)
    throw badValue('loss.hidden', config.loss.hidden, 'absent: hidden-state matching applies to text data (a language model) only');
  if (config.export.verify)
    throw badValue('export.verify', true, 'false: the llama.cpp check applies to text data (a language model) only');
  if (t.epochs === undefined) throw badValue('training.epochs', undefined, 'an integer >= 1 (passes over the training data)');
  return t.epochs;
}

/** `training` for text data: exactly one of epochs and steps, evaluateEverySteps a divisor of steps. */
export function lmTraining(config: DistillConfig) {
  const t = config.training;
  if ((t.epochs === undefined) === (t.steps === undefined))
    throw badValue('training.steps', t.steps, `exactly one of training.epochs (${t.epochs}) and training.steps for text data`);
  if (t.evaluateEverySteps !== undefined) {
    if (t.steps === undefined)
      throw badValue('training.evaluateEverySteps', t.evaluateEverySteps, 'absent with epochs (evaluation follows every epoch)');
    if (t.steps % t.evaluateEverySteps !== 0)
      throw badValue('training.evaluateEverySteps', t.evaluateEverySteps, `a divisor of training.steps (${t.steps})`);
  }
  return { ...t, context: t.context ?? DEFAULT_LM_CONTEXT };
}

/** Text data: the teacher-dependent settings of `loss`, `data.useLabels` and `training.fusedHead`. */
export function lmTeacherSettings(config: DistillConfig, teacher: PluginSpec | undefined): void {
  if (!teacher) {
    if (!config.data.useLabels)
      throw badValue('data.useLabels', false, 'true without a teacher (the next tokens are the only training signal)');
    if (config.training.fusedHead !== undefined)
      throw badValue('training.fusedHead', config.training.fusedHead, 'absent without a teacher (the fused head fuses the KD loss)');
    if (config.loss.hidden !== undefined)
      throw badValue('loss.hidden', config.loss.hidden, 'absent without a teacher (there is no teacher hidden state to match)');
    return;
  }
  const l = config.loss;
  if (!config.data.useLabels && l.hardWeight !== undefined && l.hardWeight !== 0)
    throw badValue('loss.hardWeight', l.hardWeight, '0 or absent with data.useLabels false (no next-token term)');
  if (l.hidden !== undefined && pluginName(teacher) === 'cache')
    throw new DistilleryError(
      'E_UNSUPPORTED',
      "loss.hidden matches the teacher's hidden states, which teacher cache (an offline cache of top-k log-probabilities) does not have",
      { field: 'loss.hidden', value: l.hidden, expected: 'a "gguf" teacher (run on WebGPU)' },
    );
}

/** What the built-in datasets give: text documents (a language model) or classifier rows; undefined for a plugin's. */
export function dataKind(config: Pick<DistillConfig, 'data'>): 'text' | 'classifier' | undefined {
  const name = pluginName(config.data.train);
  if (name === 'text') return 'text';
  return ['mnist', 'jsonl', 'csv'].includes(name) ? 'classifier' : undefined;
}

/** The metrics every evaluation of such a run reports (the keys callbacks may watch). */
export function evaluationMetrics(kind: 'text' | 'classifier', teacher: PluginSpec | undefined): string[] {
  const metrics =
    kind === 'text' ? ['crossEntropy', 'perplexity', 'bitsPerToken', 'tokens'] : ['accuracy', 'error', 'errors', 'crossEntropy'];
  // A cache answers for the training rows only: no agreement on validation data.
  if (teacher && pluginName(teacher) !== 'cache') metrics.push('teacherAgreement');
  return metrics;
}

/** `earlyStopping.metric` and every `best-model` callback's metric: evaluated metrics of this run, which needs validation data. */
export function watchedMetrics(config: DistillConfig): void {
  const watched: { field: string; metric: string }[] = [];
  if (config.earlyStopping) watched.push({ field: 'earlyStopping.metric', metric: config.earlyStopping.metric });
  config.callbacks.forEach((spec, i) => {
    const metric = settingsOf(spec).metric;
    if (pluginName(spec) === 'best-model' && typeof metric === 'string') watched.push({ field: `callbacks[${i}].metric`, metric });
  });
  if (watched.length === 0) return;
  if (!config.data.validation)
    throw badValue('data.validation', undefined, `held-out data: ${watched[0]!.field} watches a metric evaluated on it`);
  const kind = dataKind(config);
  if (!kind) return;
  const known = evaluationMetrics(kind, config.teacher);
  for (const { field, metric } of watched)
    if (!known.includes(metric))
      throw badValue(
        field,
        metric,
        `one of ${known.join(', ')} (what this run evaluates${config.teacher ? '' : '; no teacherAgreement without a teacher'})`,
      );
}

/** A plugin spec and its settings as the registry would parse them, without creating anything. */
function checkSpec(registry: PluginRegistry, kind: PluginKind, spec: PluginSpec, path: string): void {
  const plugin = registry.get(kind, pluginName(spec));
  const { name: _name, ...settings } = settingsOf(spec);
  const parsed = plugin.configSchema ? (parseConfig(plugin.configSchema, settings, path) as Record<string, unknown>) : settings;
  // The specs built-in parts resolve in turn.
  const nested = (value: unknown) => value as PluginSpec;
  if (kind === 'teacher' && pluginName(spec) === 'cache' && parsed.build !== undefined)
    checkSpec(registry, 'teacher', nested(parsed.build), `${path}.build`);
  if (kind === 'teacher' && pluginName(spec) === 'trained' && parsed.data !== undefined)
    checkSpec(registry, 'dataset', nested(parsed.data), `${path}.data`);
  if (kind === 'teacher' && pluginName(spec) === 'ensemble')
    (parsed.teachers as PluginSpec[]).forEach((t, i) => checkSpec(registry, 'teacher', t, `${path}.teachers[${i}]`));
}

/** Every plugin the config names exists and takes the settings given (the registry would refuse them later). */
function pluginSpecs(registry: PluginRegistry, config: DistillConfig): void {
  checkSpec(registry, 'dataset', config.data.train, 'data.train');
  if (config.data.validation) checkSpec(registry, 'dataset', config.data.validation, 'data.validation');
  if (config.teacher) checkSpec(registry, 'teacher', config.teacher, 'teacher');
  checkSpec(registry, 'student', config.student, 'student');
  const { lr: _lr, ...optimizer } = config.optimizer;
  checkSpec(registry, 'optimizer', optimizer, 'optimizer');
  config.callbacks.forEach((spec, i) => checkSpec(registry, 'callback', spec, `callbacks[${i}]`));
  const schedules: [string, DistillConfig['loss']['temperature'] | undefined][] = [
    ['optimizer.lr', config.optimizer.lr],
    ['loss.temperature', config.loss.temperature],
    ['loss.softWeight', config.loss.softWeight],
    ['loss.hardWeight', config.loss.hardWeight],
    ['loss.beta', config.loss.beta],
    ['loss.hidden.weight', config.loss.hidden?.weight],
  ];
  for (const [path, value] of schedules)
    if (value !== undefined && typeof value !== 'number') checkSpec(registry, 'scheduler', value, path);
}

/**
 * Everything about a config that can be refused without the GPU, the data or the teacher: run
 * before the device is acquired. The runners keep their own checks for what only the parts tell
 * (a plugin dataset that turns out to be text, a teacher's vocabulary).
 */
export function checkDistillConfig(registry: PluginRegistry, config: DistillConfig, options: { comparison?: boolean } = {}): void {
  // The sections first (which settings apply to this kind of run), then the plugins' own settings.
  const kind = dataKind(config);
  if (kind === 'classifier') classifierTraining(config);
  if (kind === 'text') {
    lmTraining(config);
    lmTeacherSettings(config, config.teacher);
  }
  if (options.comparison && config.teacher) {
    if (kind === 'text') comparedLmTeacher(config.teacher);
    else comparedTeacher(config.teacher);
  }
  pluginSpecs(registry, config);
  watchedMetrics(config);
}

/**
 * `compare` with text data, before the first run: no unlabelled baseline (every next token is a
 * label, so "without labels" is the distilled run itself minus its hard term, not a baseline),
 * validation documents to report nats/token on, and a teacher whose own nats can be measured.
 */
export function textComparison(config: DistillConfig, compare: NonNullable<DistillConfig['compare']>): void {
  if (compare.unlabelled)
    throw new DistilleryError(
      'E_UNSUPPORTED',
      'compare.unlabelled has no meaning for text data: every next token is a label, so there is no unlabelled baseline (remove compare.unlabelled or set it to false)',
      { field: 'compare.unlabelled', value: compare.unlabelled, expected: 'absent or false for text data' },
    );
  if (!config.data.validation)
    throw badValue('data.validation', undefined, 'held-out text documents: the comparison reports validation nats/token on them');
  if (!config.teacher) throw badValue('teacher', undefined, 'a teacher to distil from (the comparison is teacher vs scratch vs distilled)');
  comparedLmTeacher(config.teacher);
}

/**
 * A text comparison's teacher row is the teacher's own validation nats/token: a live "gguf" teacher
 * gives it, and so does a "cache" teacher whose `build` is one (that GGUF is evaluated on the
 * validation documents; the cache itself holds top-k log-probabilities of the training windows only).
 * Anything else (a prebuilt cache, a plugin's teacher) is refused with `compare` named.
 */
export function comparedLmTeacher(teacher: PluginSpec): 'self' | { build: PluginSpec } {
  const name = pluginName(teacher);
  if (name === 'gguf') return 'self';
  if (name === 'cache') {
    const build = settingsOf(teacher).build as PluginSpec | undefined;
    if (build !== undefined && pluginName(build) === 'gguf') return { build };
  }
  throw new DistilleryError(
    'E_BAD_CONFIG',
    `compare reports the teacher's own validation nats/token, which teacher ${name}${name === 'cache' ? ` (an offline cache of the training windows only, built by ${build(teacher)})` : ''} cannot give: use a "gguf" teacher, or a "cache" teacher whose build is a "gguf" teacher ({ "name": "gguf", ... }), or remove compare`,
    {
      field: 'teacher',
      value: teacher,
      conflictsWith: 'compare',
      expected: 'a "gguf" teacher, or a "cache" whose build is a "gguf" teacher',
    },
  );
}

/**
 * The model file a comparison measures its teacher row with: the teacher itself for "model" and
 * "trained" (a plugin's teacher is trusted to be one), a "cache" teacher's `build` when that is a
 * model file. Anything else (an ensemble, a cache built by a trained teacher or without `build`)
 * is refused with `compare` named.
 */
export function comparedTeacher(teacher: PluginSpec): 'self' | { build: PluginSpec } {
  const name = pluginName(teacher);
  if (name === 'cache') {
    const build = settingsOf(teacher).build as PluginSpec | undefined;
    if (build !== undefined && pluginName(build) === 'model') return { build };
  } else if (name !== 'ensemble') return 'self';
  throw new DistilleryError(
    'E_BAD_CONFIG',
    `compare reports the teacher's own test error, which teacher ${name}${name === 'cache' ? ` (built by ${build(teacher)})` : ''} cannot give: use a "model" or "trained" teacher, or a "cache" teacher whose build is a model file ({ "name": "model", "path": ... }), or remove compare`,
    {
      field: 'teacher',
      value: teacher,
      conflictsWith: 'compare',
      expected: 'a "model" or "trained" teacher, or a "cache" whose build is a "model" teacher',
    },
  );
}

const build = (cache: PluginSpec) => {
  const spec = settingsOf(cache).build as PluginSpec | undefined;
  return spec === undefined ? 'no build: a prebuilt cache' : `teacher ${pluginName(spec)}`;
};
