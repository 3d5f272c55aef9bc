import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { constant, Distiller, isDistilleryError, shapeMismatch, toScheduler, type ModelState, type StepEvent } from '../src/index.js';
import { FileCheckpointStore } from '../src/node.js';
import { blobData, CpuKdLoss, CpuLinearStudent, CpuSgd } from './cpu-fixtures.js';

const features = 6;
const classes = 4;
const base = () => ({
  student: new CpuLinearStudent(features, classes, 3),
  loss: new CpuKdLoss(),
  optimizer: new CpuSgd(),
  data: blobData(64, features, classes, 32, 5),
  labels: (b: { labels?: unknown }) => b.labels as never,
  epochs: 2,
});

describe('schedules as plain numbers', () => {
  it('treats a number as a constant, step for step like constant()', async () => {
    const hyper: Record<string, number>[] = [];
    const numbers = new Distiller({ ...base(), schedules: { lr: 0.1, softWeight: 0, hardWeight: 1 } });
    numbers.on('step', (e: StepEvent) => hyper.push(e.hyper));
    const fromNumbers = await numbers.run();
    const fromSchedulers = await new Distiller({
      ...base(),
      schedules: { lr: constant(0.1), softWeight: constant(0), hardWeight: constant(1) },
    }).run();
    expect(hyper).toHaveLength(4);
    for (const h of hyper) expect(h).toEqual({ lr: 0.1, softWeight: 0, hardWeight: 1 });
    expect(fromNumbers.lastLoss).toBe(fromSchedulers.lastLoss);
  });

  it('rejects a wrong type with E_BAD_VALUE naming the field and the value', () => {
    const make = (temperature: unknown) => new Distiller({ ...base(), schedules: { lr: 0.1, temperature: temperature as number } });
    for (const bad of ['4', null, { from: 1 }, Number.NaN]) {
      let error: unknown;
      try {
        make(bad);
      } catch (e) {
        error = e;
      }
      expect(isDistilleryError(error, 'E_BAD_VALUE')).toBe(true);
      expect((error as { details: { field: string } }).details.field).toBe('schedules.temperature');
      expect((error as Error).message).toContain('schedules.temperature must be a finite number (a constant) or a Scheduler');
    }
    expect(() => new Distiller({ ...base(), schedules: {} as never })).toThrow(/schedules\.lr/);
    expect(toScheduler('x', 3).value(5, 10)).toBe(3);
  });
});

describe('a finished run, rerun', () => {
  it('returns the final loss and metrics from the checkpoint instead of NaN and {}', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-rerun-'));
    const store = new FileCheckpointStore(join(dir, 'run.safetensors'));
    let evaluations = 0;
    const make = () =>
      new Distiller({
        ...base(),
        schedules: { lr: 0.1, softWeight: 0, hardWeight: 1 },
        checkpoint: { store },
        evaluate: async ({ epoch }) => ({ accuracy: 0.5 + epoch / 10, evaluations: ++evaluations }),
      });
    const first = await make().run();
    expect(Number.isFinite(first.lastLoss)).toBe(true);
    expect(first.metrics).toEqual({ accuracy: 0.6, evaluations: 2 });
    const again = await make().run();
    expect(again).toEqual(first);
    expect(evaluations).toBe(2);
  });
});

describe('a checkpoint that does not fit', () => {
  it('names the checkpoint file and how to start fresh, keeping the code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-misfit-'));
    const path = join(dir, 'run.safetensors');
    const store = new FileCheckpointStore(path);
    await new Distiller({ ...base(), schedules: { lr: 0.1, softWeight: 0, hardWeight: 1 }, checkpoint: { store } }).run();
    class Wider extends CpuLinearStudent {
      override async loadState(state: ModelState): Promise<void> {
        const w = state.tensors.w!;
        if (w.shape[1] !== this.vocabSize) throw shapeMismatch('w', w.shape, `[${features}, ${this.vocabSize}]`);
        await super.loadState(state);
      }
    }
    const wider = new Distiller({
      ...base(),
      student: new Wider(features, classes, 3),
      schedules: { lr: 0.1, softWeight: 0, hardWeight: 1 },
      checkpoint: { store },
    });
    // Same vocabulary here, so this resumes; a student of another width does not fit.
    await expect(wider.run()).resolves.toMatchObject({ steps: 4 });
    const other = new Distiller({
      ...base(),
      student: new Wider(features, classes + 1, 3),
      loss: new CpuKdLoss(),
      data: blobData(64, features, classes + 1, 32, 5),
      schedules: { lr: 0.1, softWeight: 0, hardWeight: 1 },
      checkpoint: { store },
    });
    const error = await other.run().catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_SHAPE_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain('resume: false');
    expect((error as { details: { checkpoint: string; field: string } }).details).toMatchObject({ checkpoint: path, field: 'w' });
    await expect(other.run({ resume: false })).resolves.toMatchObject({ steps: 4 });
  });
});
