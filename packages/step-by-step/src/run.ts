import { join } from 'node:path';
import { DistilleryError, parseConfig } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import {
  checkTeacherSpec,
  collect,
  collectRunOptions,
  disposeTeacher,
  readJsonl,
  resolveConfigPath as at,
  resolveTeacher,
  type RunHooks,
} from '@distillery/black-box/node';
import type { CollectedRecord, CollectSummary } from '@distillery/black-box';
import { stepByStepConfigSchema } from './config.js';
import { loadExamplesJsonl, loadRecordedOutputs, loadStepByStepSplit } from './data.js';
import {
  buildEvaluationSet,
  buildStepByStepDataset,
  parseCompletions,
  teacherAccuracy,
  type BuildStats,
  type StepByStepRecord,
  type TeacherAccuracy,
} from './dataset.js';
import { PRESETS, type PresetName, type StepByStepExample } from './presets.js';
import { stepByStepItems } from './prompt.js';
import { defaultPreset, recordedTeacher } from './recorded.js';
import { vendoredDataDir } from './release.js';
import { compareStudents, type CompareStudentsOptions, type StudentComparison } from './student/compare.js';

export interface StepByStepHooks extends RunHooks {
  /** Where the students train (required when the config has a `train` section). */
  device?: GPUDevice;
  onTrainStep?: CompareStudentsOptions['onStep'];
  onTrainRun?: CompareStudentsOptions['onRun'];
}

/** Writes records as JSON Lines, atomically. */
async function writeJsonlFile(path: string, records: readonly unknown[]): Promise<void> {
  await writeFileAtomic(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export interface StepByStepSplitReport {
  examples: number;
  collect: Omit<CollectSummary, 'output' | 'errorsPath'>;
  accuracy: TeacherAccuracy;
}

export interface StepByStepReport {
  dataset: string;
  preset: PresetName;
  teacher: string;
  splits: Record<string, StepByStepSplitReport>;
  build?: BuildStats;
  /** Files written, relative to the output folder. */
  files: string[];
  /** Standard vs step-by-step students (when the config has a `train` section); also in students/comparison.json. */
  training: 'not-configured' | StudentComparison;
  complete: boolean;
}

/**
 * `distillery step-by-step <config>`: collects (or replays) the teacher's chain-of-thought outputs
 * for each split, parses them, reports the teacher's accuracy against gold, and writes the
 * step-by-step dataset (train/validation from the train split, test kept whole) as JSONL that
 * Hugging Face `datasets` loads unchanged.
 */
export async function runStepByStep(value: unknown, hooks: StepByStepHooks = {}): Promise<StepByStepReport> {
  const config = parseConfig(stepByStepConfigSchema, value);
  if (config.train && !hooks.device) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  train: student training needs a GPUDevice (distillery step-by-step provides one; from code pass hooks.device)',
      { field: 'train' },
    );
  }
  const base = hooks.baseDir ?? process.cwd();
  const out = at(base, config.output);
  const data = config.data;
  const release =
    data.dataset !== undefined
      ? { dir: data.dir === undefined ? vendoredDataDir() : at(base, data.dir), dataset: data.dataset }
      : undefined;
  const presetKey: PresetName | undefined = config.preset ?? (release ? defaultPreset(release.dataset) : undefined);
  if (!presetKey)
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  preset: expected one of "multiple-choice", "arithmetic", "nli" for your own data, got undefined',
      { field: 'preset' },
    );
  const preset = PRESETS[presetKey];
  const teacherSpecValue = config.teacher ?? (release ? 'recorded' : undefined);
  if (teacherSpecValue === undefined)
    throw new DistilleryError('E_BAD_CONFIG', 'invalid config\n  teacher: expected a teacher spec for your own data, got undefined', {
      field: 'teacher',
    });
  const recorded = teacherSpecValue === 'recorded';
  if (recorded && !release)
    throw new DistilleryError('E_BAD_CONFIG', 'invalid config\n  teacher: "recorded" replays the release and needs data.dataset', {
      field: 'teacher',
    });
  // A bad teacher spec is reported as such, before the exemplars a live teacher would need.
  if (!recorded) await checkTeacherSpec(teacherSpecValue, config.plugins, hooks);
  if (!recorded && !config.exemplars?.length)
    throw new DistilleryError(
      'E_BAD_CONFIG',
      'invalid config\n  exemplars: expected at least one worked example for a live teacher, got none',
      { field: 'exemplars' },
    );
  const prompt = { preset, exemplars: config.exemplars ?? [], instruction: config.instruction };
  const sampling = { temperature: 0, maxTokens: 256, ...config.sampling };
  const splits: { name: 'train' | 'test'; examples: StepByStepExample[] }[] = [];
  if (release) {
    for (const split of ['train', 'test'] as const)
      splits.push({ name: split, examples: await loadStepByStepSplit(release.dir, release.dataset, split) });
  } else {
    splits.push({ name: 'train', examples: await loadExamplesJsonl(at(base, data.train!), data.fields) });
    if (data.test) splits.push({ name: 'test', examples: await loadExamplesJsonl(at(base, data.test), data.fields) });
  }
  if (data.limit) for (const s of splits) s.examples = s.examples.slice(0, data.limit);

  let built: ReturnType<typeof buildStepByStepDataset> | undefined;
  let testRows: StepByStepRecord[] = [];
  const live = recorded ? undefined : await resolveTeacher(teacherSpecValue, config.plugins, hooks);
  const report: StepByStepReport = {
    dataset: release?.dataset ?? data.train!,
    preset: presetKey,
    teacher: live?.name ?? `recorded:${release!.dataset}`,
    splits: {},
    files: [],
    training: 'not-configured',
    complete: true,
  };
  try {
    for (const split of splits) {
      const teacher =
        live ??
        recordedTeacher(
          split.examples,
          (await loadRecordedOutputs(release!.dir, release!.dataset, split.name)).slice(0, split.examples.length),
          prompt,
          report.teacher,
        );
      const completionsPath = join(out, 'completions', `${split.name}.jsonl`);
      const summary = await collect({
        teacher,
        items: stepByStepItems(split.examples, { ...prompt, sampling }),
        output: completionsPath,
        ...collectRunOptions(config.collect ?? {}, base, recorded ? undefined : join(out, 'teacher-cache')),
        signal: hooks.signal,
        onProgress: hooks.onProgress && ((p) => hooks.onProgress!(split.name, p)),
        onRetry: hooks.onRetry,
      });
      const texts = new Map<string, string>();
      for (const record of (await readJsonl<CollectedRecord>(completionsPath)).records) texts.set(record.id, record.completion.text);
      const parsed = parseCompletions(preset, split.examples, texts);
      const { output: _o, errorsPath: _e, ...collectSummary } = summary;
      report.splits[split.name] = { examples: split.examples.length, collect: collectSummary, accuracy: teacherAccuracy(parsed) };
      report.complete &&= summary.complete;
      if (split.name === 'train') {
        built = buildStepByStepDataset(parsed, config.build);
        await writeJsonlFile(join(out, 'train.jsonl'), built.train);
        await writeJsonlFile(join(out, 'validation.jsonl'), built.validation);
        await writeJsonlFile(join(out, 'rejected.jsonl'), built.rejected);
        report.build = built.stats;
        report.files.push('train.jsonl', 'validation.jsonl', 'rejected.jsonl');
      } else {
        testRows = buildEvaluationSet(parsed);
        await writeJsonlFile(join(out, 'test.jsonl'), testRows);
        report.files.push('test.jsonl');
      }
      report.files.push(`completions/${split.name}.jsonl`);
    }
  } finally {
    if (live) await disposeTeacher(live);
  }
  if (config.train && built) {
    // Evaluation needs gold labels: without a test split, the validation rows (gold where known) stand in.
    const test = (testRows.length ? testRows : built.validation).filter((r) => r.label.length > 0);
    const comparison = await compareStudents({
      device: hooks.device!,
      settings: config.train,
      preset,
      train: built.train,
      validation: built.validation,
      test,
      dir: join(out, 'students'),
      labels: config.build?.labels,
      onStep: hooks.onTrainStep,
      onRun: hooks.onTrainRun,
      signal: hooks.signal,
    });
    report.training = comparison;
    await writeFileAtomic(join(out, 'students', 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    report.files.push(
      'students/comparison.json',
      ...comparison.runs.flatMap((r) => r.files.map((f) => `students/${r.mode}-seed${r.seed}/${f}`)),
    );
  }
  report.files.push('report.json');
  await writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
