import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '@distillery/core';
import { runDistillComparison } from '../src/distill/compare.js';
import { comparedLmTeacher, comparedTeacher, evaluationMetrics } from '../src/distill/config-checks.js';
import { runDistillConfig } from '../src/distill/run.js';
import { captureIO } from './capture-io.js';

/*
 * Configs refused before the device is acquired: each of these used to fail only after training
 * (at the first evaluation, at the export, or after a comparison's distilled run).
 */

const mnist = { name: 'mnist', limitPerClass: 5 };
const base = {
  data: { train: mnist, validation: { ...mnist, split: 'test' } },
  teacher: { name: 'trained', hidden: [8], epochs: 1 },
  student: { name: 'mlp', hidden: [4] },
  training: { epochs: 1, batchSize: 10 },
};
const text = {
  data: { train: { name: 'text', documents: 4 }, validation: { name: 'text', split: 'validation', documents: 2 } },
  student: { name: 'llama', layers: 1 },
  training: { steps: 2, batchSize: 1, context: 8 },
};

/** Runs `config` (a comparison when it has `compare`) and returns its error and what it printed. */
async function refusal(config: Record<string, unknown>) {
  const root = await mkdtemp(join(tmpdir(), 'distill-checks-'));
  const file = join(root, 'run.json');
  await writeFile(file, JSON.stringify(config));
  const io = captureIO();
  const running = config.compare ? runDistillComparison(config, file, { io }) : runDistillConfig(config, file, { io });
  const error = await running.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof DistilleryError)) throw new Error(`expected a DistilleryError, got ${String(error)}`);
  return { error, stderr: io.err, root };
}

/** Nothing ran: no run folder (no config.json, no seed folders), no teacher training. */
function expectNothingRan(r: Awaited<ReturnType<typeof refusal>>) {
  expect(existsSync(join(r.root, 'run.run'))).toBe(false);
  expect(r.stderr).not.toContain('teacher:');
}

describe('distill config checks before the first GPU work', () => {
  it('compare with a teacher whose test error cannot be measured: refused naming teacher and compare', async () => {
    const cacheOfTrained = await refusal({
      ...base,
      teacher: { name: 'cache', dir: 'cache', build: { name: 'trained', hidden: [8], epochs: 1 } },
      compare: { seeds: [1] },
    });
    expect(cacheOfTrained.error.code).toBe('E_BAD_CONFIG');
    expect(cacheOfTrained.error.details).toMatchObject({ field: 'teacher', conflictsWith: 'compare' });
    expect(cacheOfTrained.error.message).toContain('compare');
    expect(cacheOfTrained.error.message).toContain('built by teacher trained');
    expectNothingRan(cacheOfTrained);

    const prebuilt = await refusal({ ...base, teacher: { name: 'cache', dir: 'cache' }, compare: { seeds: [1] } });
    expect(prebuilt.error.details).toMatchObject({ field: 'teacher', conflictsWith: 'compare' });
    expect(prebuilt.error.message).toContain('a prebuilt cache');

    const ensemble = await refusal({ ...base, teacher: { name: 'ensemble', teachers: ['trained'] }, compare: { seeds: [1] } });
    expect(ensemble.error.details).toMatchObject({ field: 'teacher', value: { name: 'ensemble' } });
    expectNothingRan(ensemble);

    // What is measured instead: the teacher itself, or the model file the cache is built from.
    expect(comparedTeacher({ name: 'trained', hidden: [8], epochs: 1 })).toBe('self');
    expect(comparedTeacher({ name: 'model', path: 't.safetensors' })).toBe('self');
    expect(comparedTeacher({ name: 'cache', dir: 'c', build: { name: 'model', path: 't.safetensors' } })).toEqual({
      build: { name: 'model', path: 't.safetensors' },
    });
  });

  it('a metric the evaluations never report: best-model, early stopping, and a comparison baseline without the teacher', async () => {
    const bestModel = await refusal({ ...base, callbacks: [{ name: 'best-model', metric: 'eror' }] });
    expect(bestModel.error.code).toBe('E_BAD_VALUE');
    expect(bestModel.error.details).toMatchObject({ field: 'callbacks[0].metric', value: 'eror' });
    expect(bestModel.error.message).toContain('accuracy, error, errors, crossEntropy, teacherAgreement');
    expectNothingRan(bestModel);

    const cached = await refusal({
      ...base,
      teacher: { name: 'cache', dir: 'cache', build: base.teacher },
      earlyStopping: { metric: 'teacherAgreement', patience: 2 },
    });
    expect(cached.error.details).toMatchObject({ field: 'earlyStopping.metric', value: 'teacherAgreement' });

    const noValidation = await refusal({ ...base, data: { train: mnist }, earlyStopping: { metric: 'error', patience: 2 } });
    expect(noValidation.error.details).toMatchObject({ field: 'data.validation' });
    expect(noValidation.error.message).toContain('earlyStopping.metric');

    // The distilled run has teacherAgreement; its scratch baseline does not.
    const comparison = await refusal({
      ...base,
      callbacks: [{ name: 'best-model', metric: 'teacherAgreement' }],
      compare: { seeds: [1], unlabelled: false },
    });
    expect(comparison.error.details).toMatchObject({ field: 'callbacks[0].metric', value: 'teacherAgreement' });
    expect(comparison.error.message).toContain('no teacherAgreement without a teacher');
    expectNothingRan(comparison);

    const lm = await refusal({ ...text, callbacks: [{ name: 'best-model', metric: 'error' }] });
    expect(lm.error.details).toMatchObject({ field: 'callbacks[0].metric', value: 'error' });
    expect(lm.error.message).toContain('crossEntropy, perplexity, bitsPerToken, tokens');

    expect(evaluationMetrics('text', { name: 'gguf', path: 'x' })).toContain('teacherAgreement');
    expect(evaluationMetrics('classifier', { name: 'cache', dir: 'x' })).not.toContain('teacherAgreement');
  });

  it('an export path the end of the run could not write', async () => {
    const root = await mkdtemp(join(tmpdir(), 'distill-export-'));
    await mkdir(join(root, 'a-folder'));
    await writeFile(join(root, 'a-file'), 'not a folder');
    const folder = await refusal({ ...base, export: { path: join(root, 'a-folder') } });
    expect(folder.error.code).toBe('E_BAD_VALUE');
    expect(folder.error.details).toMatchObject({ field: 'export.path', value: join(root, 'a-folder') });
    expect(folder.error.message).toContain('is a folder');
    expectNothingRan(folder);

    const parent = await refusal({ ...base, export: { path: join(root, 'a-file', 'sub', 'student.safetensors') } });
    expect(parent.error.details).toMatchObject({ field: 'export.path' });
    expect(parent.error.message).toContain(`${join(root, 'a-file')} is a file`);
  });

  it('plugins and their settings, nested specs included, and the text-only and classifier-only sections', async () => {
    const unknown = await refusal({ ...base, callbacks: ['best-modle'] });
    expect(unknown.error.code).toBe('E_UNKNOWN_PLUGIN');
    expect(unknown.error.details).toMatchObject({ value: 'best-modle' });
    expectNothingRan(unknown);

    const nested = await refusal({ ...base, teacher: { name: 'cache', dir: 'c', build: { name: 'trained', hidden: [8] } } });
    expect(nested.error.code).toBe('E_BAD_CONFIG');
    expect(nested.error.message).toContain('teacher.build.epochs');

    const scheduler = await refusal({ ...base, loss: { temperature: { name: 'cosine', form: 4 } } });
    expect(scheduler.error.message).toContain('loss.temperature');

    const steps = await refusal({ ...base, training: { epochs: 1, steps: 3 } });
    expect(steps.error.details).toMatchObject({ field: 'training.steps', value: 3 });

    // compare on text data: no unlabelled baseline, validation documents, a teacher with its own nats/token.
    const gguf = { name: 'gguf', path: 'teacher.gguf' };
    const unlabelled = await refusal({ ...text, teacher: gguf, compare: { seeds: [0], unlabelled: true } });
    expect(unlabelled.error.code).toBe('E_UNSUPPORTED');
    expect(unlabelled.error.details).toMatchObject({ field: 'compare.unlabelled', value: true });
    expect(unlabelled.error.message).toContain('every next token is a label');
    expectNothingRan(unlabelled);
    const noValidation = await refusal({ ...text, data: { train: text.data.train }, teacher: gguf, compare: { seeds: [0] } });
    expect(noValidation.error.details).toMatchObject({ field: 'data.validation' });
    expect(noValidation.error.message).toContain('nats/token');
    expectNothingRan(noValidation);
    // A cache's teacher row is the GGUF it is built from: a prebuilt cache has none.
    const cacheRow = await refusal({ ...text, teacher: { name: 'cache', dir: 'c' }, compare: { seeds: [0] } });
    expect(cacheRow.error.code).toBe('E_BAD_CONFIG');
    expect(cacheRow.error.details).toMatchObject({ field: 'teacher', conflictsWith: 'compare' });
    expect(cacheRow.error.message).toContain('"cache" teacher whose build is a "gguf" teacher');
    expect(cacheRow.error.message).toContain('a prebuilt cache');
    expectNothingRan(cacheRow);
    expect(comparedLmTeacher(gguf)).toBe('self');
    expect(comparedLmTeacher({ name: 'cache', dir: 'c', build: gguf })).toEqual({ build: gguf });
    expect(() => comparedLmTeacher({ name: 'cache', dir: 'c', build: { name: 'model', path: 't.safetensors' } })).toThrow(
      'built by teacher model',
    );
    // The scratch baseline would refuse a teacher-only metric after the distilled run: refused first.
    const watched = await refusal({
      ...text,
      teacher: gguf,
      callbacks: [{ name: 'best-model', metric: 'teacherAgreement' }],
      compare: { seeds: [0] },
    });
    expect(watched.error.details).toMatchObject({ field: 'callbacks[0].metric', value: 'teacherAgreement' });
    expectNothingRan(watched);

    const hiddenOfCache = await refusal({ ...text, teacher: { name: 'cache', dir: 'c', k: 4 }, loss: { hidden: {} } });
    expect(hiddenOfCache.error.details).toMatchObject({ field: 'loss.hidden' });
    expectNothingRan(hiddenOfCache);
  });
});
