import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { constant, cosine } from '@distillery/core';
import { FileCheckpointStore } from '@distillery/core/node';
import { KdLoss } from '@distillery/kernels';
import { AdamW, MlpClassifier } from '@distillery/nn';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { CachedTeacher, EnsembleTeacher, ModelTeacher, uploadBatch, WhiteBoxDistiller } from '../src/index.js';
import { buildTeacherCache, TeacherCacheReader } from '../src/node.js';
import { CLASSES, FEATURES, test, train, trainedTeacher } from './blobs.js';

const schedules = () => ({
  lr: cosine({ from: 1e-2, to: 1e-3 }),
  temperature: constant(3),
  softWeight: constant(1),
  hardWeight: constant(0.2),
});

async function weights(model: MlpClassifier): Promise<number[]> {
  const out: number[] = [];
  for (const p of model.parameters()) out.push(...(await readFloat32(p.value)));
  return out;
}

gpuDescribe('WhiteBoxDistiller', () => {
  gpuTest('a distilled MLP learns from its teacher: accuracy rises and it agrees with the teacher', async ({ device }) => {
    const teacher = new ModelTeacher(await trainedTeacher(device));
    const student = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [16], classes: CLASSES, seed: 9 });
    const distiller = new WhiteBoxDistiller({
      teacher,
      student,
      loss: new KdLoss(),
      optimizer: new AdamW({ weightDecay: 0 }),
      train,
      validation: test,
      batchSize: 64,
      epochs: 6,
      seed: 5,
      schedules: schedules(),
    });
    const before = await distiller.evaluate(test);
    const evaluations: number[] = [];
    distiller.loop.on('evaluation', (e) => evaluations.push(e.metrics.accuracy!));
    await distiller.run();
    const after = await distiller.evaluate(test);
    expect(evaluations).toHaveLength(6);
    expect(after.accuracy).toBeGreaterThan(Math.max(0.8, before.accuracy + 0.3));
    expect(after.teacherAgreement).toBeGreaterThan(0.85);
  });

  gpuTest('stop + resume continues exactly: N steps in one go equal N/2 + resume + N/2', async ({ device }) => {
    const teacher = new ModelTeacher(await trainedTeacher(device));
    const make = (store?: FileCheckpointStore) => {
      const student = MlpClassifier.create(device, {
        inputSize: FEATURES,
        hidden: [16],
        classes: CLASSES,
        dropout: 0.2,
        inputJitter: 0.1,
        seed: 11,
      });
      const distiller = new WhiteBoxDistiller({
        teacher,
        student,
        loss: new KdLoss(),
        optimizer: new AdamW(),
        train,
        batchSize: 64,
        epochs: 2,
        seed: 5,
        schedules: schedules(),
        checkpoint: store && { store },
      });
      return { student, distiller };
    };
    const straight = make();
    await straight.distiller.run();
    const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'wb-resume-')), 'ckpt.safetensors'));
    const first = make(store);
    first.distiller.loop.on('step', (e) => e.step === 5 && first.distiller.stop()); // mid-epoch
    expect((await first.distiller.run()).stopped).toBe(true);
    const second = make(store); // a fresh process: new model objects, state from the checkpoint
    const steps: number[] = [];
    second.distiller.loop.on('step', (e) => steps.push(e.step));
    await second.distiller.run();
    expect(steps[0]).toBe(6);
    expect(await weights(second.student)).toEqual(await weights(straight.student));
  });

  gpuTest('cached teacher targets give the same training as the live teacher', async ({ device }) => {
    const live = new ModelTeacher(await trainedTeacher(device));
    const dir = await mkdtemp(join(tmpdir(), 'wb-cache-'));
    await buildTeacherCache({
      dir,
      teacher: live,
      rows: train.rows,
      batchOf: async (ids) => uploadBatch(device, train, ids, false),
      kind: 'dense',
      rowsPerShard: 200,
    });
    const cached = new CachedTeacher(await TeacherCacheReader.open(dir), device);
    const run = async (teacher: ModelTeacher<never> | CachedTeacher) => {
      const student = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [16], classes: CLASSES, seed: 4 });
      await new WhiteBoxDistiller({
        teacher: teacher as CachedTeacher,
        student,
        loss: new KdLoss(),
        optimizer: new AdamW(),
        train,
        batchSize: 64,
        epochs: 2,
        seed: 8,
        schedules: schedules(),
      }).run();
      return weights(student);
    };
    expect(await run(cached)).toEqual(await run(live as never));
  });

  gpuTest('an ensemble teacher (probability mixture) trains a student; the unlabelled transfer set works', async ({ device }) => {
    const ensemble = new EnsembleTeacher({
      teachers: [new ModelTeacher(await trainedTeacher(device, 3)), new ModelTeacher(await trainedTeacher(device, 4))],
      temperature: 3,
    });
    const student = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [16], classes: CLASSES, seed: 2 });
    const distiller = new WhiteBoxDistiller({
      teacher: ensemble,
      student,
      loss: new KdLoss(),
      optimizer: new AdamW(),
      train,
      useLabels: false,
      batchSize: 64,
      epochs: 5,
      seed: 1,
      schedules: { ...schedules(), hardWeight: constant(0) },
    });
    await distiller.run();
    expect((await distiller.evaluate(test)).accuracy).toBeGreaterThan(0.8);
  });

  gpuTest('a teacher whose vocabulary differs from the student is refused by name', async ({ device }) => {
    const teacher = new ModelTeacher(MlpClassifier.create(device, { inputSize: FEATURES, hidden: [], classes: CLASSES + 1, seed: 1 }));
    const student = MlpClassifier.create(device, { inputSize: FEATURES, hidden: [], classes: CLASSES, seed: 1 });
    expect(
      () =>
        new WhiteBoxDistiller({
          teacher,
          student,
          loss: new KdLoss(),
          optimizer: new AdamW(),
          train,
          batchSize: 64,
          epochs: 1,
          seed: 1,
          schedules: schedules(),
        }),
    ).toThrowError(/teacher.vocabSize \(6\) differs from student.vocabSize \(5\)/);
  });
});
