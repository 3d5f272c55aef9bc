import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { constant, cosine, Distiller, MemoryCheckpointStore, type HiddenLoss, type HostTensor, type StepEvent } from '../src/index.js';
import { FileCheckpointStore } from '../src/node.js';
import { blobData, type CpuBatch, CpuKdLoss, CpuLinearStudent, CpuSgd, teacherFrom } from './cpu-fixtures.js';

const features = 6;
const classes = 4;

async function trainedTeacher() {
  const teacher = new CpuLinearStudent(features, classes, 1);
  await new Distiller({
    student: teacher,
    loss: new CpuKdLoss(),
    optimizer: new CpuSgd(),
    data: blobData(256, features, classes, 32, 7),
    labels: (b) => b.labels,
    epochs: 5,
    schedules: { lr: constant(0.1), softWeight: constant(0), hardWeight: constant(1) },
  }).run();
  return teacher;
}

function makeDistiller(student: CpuLinearStudent, teacher: CpuLinearStudent, store?: MemoryCheckpointStore | FileCheckpointStore) {
  return new Distiller({
    teacher: teacherFrom(teacher),
    student,
    loss: new CpuKdLoss(),
    optimizer: new CpuSgd(),
    data: blobData(256, features, classes, 32, 11),
    labels: (b) => b.labels,
    epochs: 3,
    schedules: { lr: cosine({ from: 0.2, to: 0.01 }), temperature: constant(2), softWeight: constant(1), hardWeight: constant(0.5) },
    checkpoint: store ? { store, everySteps: 5 } : undefined,
  });
}

describe('Distiller', () => {
  it('runs teacher → student → loss → backward → optimiser and the KD loss falls', async () => {
    const teacher = await trainedTeacher();
    const distiller = makeDistiller(new CpuLinearStudent(features, classes, 3), teacher);
    const steps: StepEvent[] = [];
    const epochs: number[] = [];
    distiller.on('step', (e) => steps.push(e));
    distiller.on('epoch', (e) => epochs.push(e.meanLoss));
    const summary = await distiller.run();
    expect(summary.steps).toBe(24);
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(steps[0]!.hyper).toMatchObject({ lr: 0.2, temperature: 2 });
    expect(steps[0]!.terms).toHaveProperty('soft');
    expect(epochs[2]!).toBeLessThan(steps[0]!.loss * 0.7);
    expect(epochs[2]!).toBeLessThan(epochs[0]!);
  });

  it("passes each batch's row weights and normaliser to the loss", async () => {
    const seen: { rowWeights?: unknown; normalizer?: number }[] = [];
    const inner = new CpuKdLoss();
    const spy: typeof inner = Object.assign(Object.create(inner) as CpuKdLoss, {
      compute: async (inputs: Parameters<CpuKdLoss['compute']>[0]) => {
        seen.push({ rowWeights: inputs.rowWeights, normalizer: inputs.normalizer });
        return inner.compute(inputs);
      },
    });
    const weights: HostTensor = { data: new Float32Array(32).fill(0.5), shape: [32], dtype: 'f32' };
    const base = {
      student: new CpuLinearStudent(features, classes, 3),
      optimizer: new CpuSgd(),
      data: blobData(64, features, classes, 32, 5),
      labels: (b: CpuBatch) => b.labels,
    };
    const schedules = { lr: constant(0.1), softWeight: constant(0), hardWeight: constant(1) };
    await new Distiller({ ...base, loss: spy, epochs: 1, schedules, rowWeights: () => weights, normalizer: (b) => b.rows * 2 }).run();
    expect(seen).toEqual([
      { rowWeights: weights, normalizer: 64 },
      { rowWeights: weights, normalizer: 64 },
    ]);
    seen.length = 0;
    await new Distiller({ ...base, loss: spy, epochs: 1, schedules }).run();
    expect(seen[0]).toEqual({ rowWeights: undefined, normalizer: undefined });
  });

  it('stop + resume continues exactly: same weights as an uninterrupted run', async () => {
    const teacher = await trainedTeacher();
    const straight = new CpuLinearStudent(features, classes, 5);
    await makeDistiller(straight, teacher).run();

    const dir = await mkdtemp(join(tmpdir(), 'distillery-resume-'));
    const store = new FileCheckpointStore(join(dir, 'ckpt.safetensors'));
    const first = makeDistiller(new CpuLinearStudent(features, classes, 5), teacher, store);
    first.on('step', (e) => e.step === 13 && first.stop()); // mid-epoch, off the checkpoint cadence
    expect((await first.run()).stopped).toBe(true);

    // A fresh process would build a fresh student: its own init must be overwritten by the checkpoint.
    const resumedStudent = new CpuLinearStudent(features, classes, 999);
    const resumed = makeDistiller(resumedStudent, teacher, store);
    const seen: number[] = [];
    resumed.on('step', (e) => seen.push(e.step));
    const summary = await resumed.run();
    expect(seen[0]).toBe(14);
    expect(summary.steps).toBe(24);
    expect(Array.from(resumedStudent.weight.value.data)).toEqual(Array.from(straight.weight.value.data));
  });

  it('stops with E_NON_FINITE naming the step, before the weights are touched', async () => {
    const teacher = await trainedTeacher();
    const student = new CpuLinearStudent(features, classes, 5);
    const store = new MemoryCheckpointStore();
    const d = new Distiller({
      teacher: teacherFrom(teacher),
      student,
      loss: new CpuKdLoss(),
      optimizer: new CpuSgd(),
      data: blobData(64, features, classes, 32, 11),
      labels: (b) => b.labels,
      epochs: 1,
      schedules: { lr: constant(0.1), temperature: { kind: 'broken', value: () => Number.NaN } },
      checkpoint: { store },
    });
    const before = Array.from(student.weight.value.data);
    await expect(d.run()).rejects.toMatchObject({ code: 'E_NON_FINITE', details: { step: 0 } });
    expect(Array.from(student.weight.value.data)).toEqual(before);
  });

  it('refuses a teacher whose vocabulary differs from the student', async () => {
    const teacher = new CpuLinearStudent(features, classes + 1, 1);
    expect(() => makeDistiller(new CpuLinearStudent(features, classes, 1), teacher)).toThrowError(
      /teacher.vocabSize \(5\) differs from student.vocabSize \(4\)/,
    );
  });

  it('a hidden-state loss needs a teacher and a student that expose hidden states', async () => {
    const hiddenLoss: HiddenLoss<HostTensor> = {
      name: 'cpu-hidden',
      studentLayers: ['h'],
      teacherLayers: ['h'],
      hyperDefaults: {},
      bind: () => {},
      compute: () => Promise.reject(new Error('not reached')),
      parameters: () => [],
      zeroGrad: () => {},
      saveState: async () => ({}),
      loadState: async () => {},
    };
    const base = {
      loss: new CpuKdLoss(),
      optimizer: new CpuSgd(),
      data: blobData(64, features, classes, 32, 5),
      epochs: 1,
      schedules: { lr: constant(0.1) },
      hiddenLoss,
    };
    expect(() => new Distiller({ ...base, student: new CpuLinearStudent(features, classes, 1) })).toThrow(
      expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'teacher' }) }),
    );
    const teacher = teacherFrom(new CpuLinearStudent(features, classes, 2));
    expect(() => new Distiller({ ...base, teacher, student: new CpuLinearStudent(features, classes, 1) })).toThrow(
      expect.objectContaining({ code: 'E_UNSUPPORTED', details: { field: 'student', value: 'cpu-linear' } }),
    );
  });

  it('a corrupt checkpoint file is a clear error, not a silent restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-corrupt-'));
    const path = join(dir, 'ckpt.safetensors');
    await writeFile(path, new Uint8Array([1, 2, 3]));
    const teacher = new CpuLinearStudent(features, classes, 1);
    await expect(
      makeDistiller(new CpuLinearStudent(features, classes, 1), teacher, new FileCheckpointStore(path)).run(),
    ).rejects.toMatchObject({ code: 'E_CORRUPT_FILE' });
  });
});
