import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { constant, cosine, linear, type StepEvent } from '@distillery/core';
import { FileCheckpointStore } from '@distillery/core/node';
import { KdLoss } from '@distillery/kernels';
import { AdamW, MlpClassifier } from '@distillery/nn';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { EnsembleTeacher, HiddenStateMatch, ModelTeacher, WhiteBoxDistiller, type HiddenPair } from '../src/index.js';
import { CLASSES, FEATURES, train, trainedTeacher } from './blobs.js';

const schedules = () => ({
  lr: cosine({ from: 1e-2, to: 1e-3 }),
  temperature: constant(3),
  softWeight: constant(1),
  hardWeight: constant(0.2),
});
const TERM = 'hidden.1->hidden.0';

async function values(parameters: readonly { value: Parameters<typeof readFloat32>[0] }[]): Promise<number[]> {
  const out: number[] = [];
  for (const p of parameters) out.push(...(await readFloat32(p.value)));
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

gpuDescribe('WhiteBoxDistiller with hidden-state matching', () => {
  gpuTest('training lowers the hidden term; step events report it by name and the loss includes it', async ({ device }) => {
    const teacher = new ModelTeacher(await trainedTeacher(device));
    const student = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [16, 16], classes: CLASSES, seed: 9 });
    const hiddenLoss = new HiddenStateMatch({
      device,
      pairs: [{ student: 'hidden.1', teacher: 'hidden.0', loss: 'mse', projection: true }],
      seed: 1,
    });
    const distiller = new WhiteBoxDistiller({
      teacher,
      student,
      loss: new KdLoss(),
      hiddenLoss,
      optimizer: new AdamW({ weightDecay: 0 }),
      train,
      batchSize: 64,
      epochs: 4,
      seed: 5,
      schedules: { ...schedules(), [`${TERM}:weight`]: linear({ from: 1, to: 0.5 }) },
    });
    const steps: StepEvent[] = [];
    distiller.loop.on('step', (e) => steps.push(e));
    await distiller.run();
    expect(steps).toHaveLength(32);
    const hidden = steps.map((e) => e.terms[TERM]! / e.hyper[`${TERM}:weight`]!);
    expect(mean(hidden.slice(-4))).toBeLessThan(0.5 * mean(hidden.slice(0, 4)));
    for (const e of steps) expect(e.loss).toBeCloseTo(e.terms.soft! + e.terms.hard! + e.terms[TERM]!, 5);
    expect(steps[0]!.hyper[`${TERM}:weight`]).toBe(1);
  });

  gpuTest('stop + resume with hidden matching gives the weights and projections of an uninterrupted run', async ({ device }) => {
    const teacher = new ModelTeacher(await trainedTeacher(device));
    const pairs: HiddenPair[] = [{ student: 'hidden.1', teacher: 'hidden.0', loss: 'cosine', weight: 0.5, projection: true }];
    const make = (projectionSeed: number, store?: FileCheckpointStore) => {
      const student = MlpClassifier.create(device, {
        inputSize: FEATURES,
        hidden: [16, 16],
        classes: CLASSES,
        dropout: 0.2,
        inputJitter: 0.1,
        seed: 11,
      });
      const hiddenLoss = new HiddenStateMatch({ device, pairs, seed: projectionSeed });
      const distiller = new WhiteBoxDistiller({
        teacher,
        student,
        loss: new KdLoss(),
        hiddenLoss,
        optimizer: new AdamW(),
        train,
        batchSize: 64,
        epochs: 2,
        seed: 5,
        schedules: schedules(),
        checkpoint: store && { store },
      });
      return { student, hiddenLoss, distiller };
    };
    const straight = make(2);
    await straight.distiller.run();
    const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'wb-hidden-resume-')), 'ckpt.safetensors'));
    const first = make(2, store);
    first.distiller.loop.on('step', (e) => e.step === 5 && first.distiller.stop());
    expect((await first.distiller.run()).stopped).toBe(true);
    // A fresh process: another projection init, which the checkpoint must overwrite.
    const second = make(77, store);
    expect(await values(second.hiddenLoss.parameters())).not.toEqual(await values(first.hiddenLoss.parameters()));
    await second.distiller.run();
    expect(await values(second.student.parameters())).toEqual(await values(straight.student.parameters()));
    expect(await values(second.hiddenLoss.parameters())).toEqual(await values(straight.hiddenLoss.parameters()));
  });

  gpuTest('an unknown layer, a teacher without hidden states and a missing teacher are refused by name', async ({ device }) => {
    const model = await trainedTeacher(device);
    const student = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [16], classes: CLASSES, seed: 1 });
    const base = { student, loss: new KdLoss(), optimizer: new AdamW(), train, batchSize: 64, epochs: 1, seed: 1, schedules: schedules() };
    const match = (pair: HiddenPair) => new HiddenStateMatch({ device, pairs: [pair] });
    expect(
      () =>
        new WhiteBoxDistiller({
          ...base,
          teacher: new ModelTeacher(model),
          hiddenLoss: match({ student: 'hidden.3', teacher: 'hidden.0', projection: true }),
        }),
    ).toThrowError('pairs[0].student is "hidden.3", which the student does not expose; its hidden states are hidden.0');
    expect(
      () =>
        new WhiteBoxDistiller({
          ...base,
          teacher: new ModelTeacher(model),
          hiddenLoss: match({ student: 'hidden.0', teacher: 'hidden.0' }),
        }),
    ).toThrow(
      expect.objectContaining({
        code: 'E_SHAPE_MISMATCH',
        details: expect.objectContaining({ field: 'pairs[0].projection', studentWidth: 16, teacherWidth: 64 }),
      }),
    );
    const ensemble = new EnsembleTeacher({ teachers: [new ModelTeacher(model)], temperature: 2 });
    expect(
      () =>
        new WhiteBoxDistiller({
          ...base,
          teacher: ensemble,
          hiddenLoss: match({ student: 'hidden.0', teacher: 'hidden.0', projection: true }),
        }),
    ).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED', details: expect.objectContaining({ field: 'teacher' }) }));
    expect(
      () => new WhiteBoxDistiller({ ...base, hiddenLoss: match({ student: 'hidden.0', teacher: 'hidden.0', projection: true }) }),
    ).toThrow(expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'teacher' }) }));
  });
});
