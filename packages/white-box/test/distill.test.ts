import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import { FileCheckpointStore } from '@distillery/core/node';
import { MlpClassifier } from '@distillery/nn';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { distill, DISTILL_DEFAULTS, ModelTeacher } from '../src/index.js';
import { CLASSES, FEATURES, test, train, trainedTeacher } from './blobs.js';

gpuDescribe('distill()', () => {
  gpuTest(
    'trains with Hinton defaults (both terms on labelled data), evaluates, and a rerun resumes to the same summary',
    async ({ device }) => {
      const teacher = new ModelTeacher(await trainedTeacher(device));
      const student = () => MlpClassifier.create(device, { inputSize: FEATURES, hidden: [16], classes: CLASSES, seed: 9 });
      const warn = vi.spyOn(process, 'emitWarning');
      const hyper: Record<string, number>[] = [];
      const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'wb-distill-')), 'run.safetensors'));
      const first = await distill({
        teacher,
        student: student(),
        data: { train, validation: test },
        epochs: 2,
        lr: 1e-2,
        checkpoint: store,
        callbacks: [{ name: 'spy', onStep: (e) => void hyper.push(e.hyper) }],
      });
      expect(hyper[0]).toEqual({
        lr: 1e-2,
        temperature: DISTILL_DEFAULTS.temperature,
        softWeight: 1,
        hardWeight: DISTILL_DEFAULTS.hardWeight,
      });
      expect(warn).not.toHaveBeenCalled();
      expect(first.validation!.accuracy).toBeGreaterThan(0.8);
      expect(first.summary.metrics.accuracy).toBe(first.validation!.accuracy);
      const again = await distill({
        teacher,
        student: student(),
        data: { train, validation: test },
        epochs: 2,
        lr: 1e-2,
        checkpoint: store,
      });
      expect(again.summary).toEqual(first.summary);
      expect(again.validation).toEqual(first.validation);
      warn.mockRestore();
    },
  );

  gpuTest('turns the hard term off without labels and refuses unlabelled data without a teacher', async ({ device }) => {
    const teacher = new ModelTeacher(await trainedTeacher(device));
    const hyper: Record<string, number>[] = [];
    const { labels: _labels, ...unlabelled } = train;
    await distill({
      teacher,
      student: MlpClassifier.create(device, { inputSize: FEATURES, hidden: [8], classes: CLASSES, seed: 2 }),
      data: { train: unlabelled },
      epochs: 1,
      callbacks: [{ name: 'spy', onStep: (e) => void hyper.push(e.hyper) }],
    });
    expect(hyper[0]!.hardWeight).toBe(0);
    const error = await distill({
      student: MlpClassifier.create(device, { inputSize: FEATURES, hidden: [8], classes: CLASSES, seed: 2 }),
      data: { train: unlabelled },
    }).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_VALUE')).toBe(true);
    expect((error as Error).message).toContain('teacher');
  });
});
