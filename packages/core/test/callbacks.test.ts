import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Distiller, earlyStopping, isDistilleryError, type TrainingCallback } from '../src/index.js';
import { FileCheckpointStore } from '../src/node.js';
import { blobData, CpuKdLoss, CpuLinearStudent, CpuSgd } from './cpu-fixtures.js';

const make = (store: FileCheckpointStore, callbacks: TrainingCallback[], metricAt: (epoch: number) => number, epochs = 8) =>
  new Distiller({
    student: new CpuLinearStudent(6, 4, 3),
    loss: new CpuKdLoss(),
    optimizer: new CpuSgd(),
    data: blobData(64, 6, 4, 32, 5),
    labels: (b) => b.labels,
    epochs,
    schedules: { lr: 0.1, softWeight: 0, hardWeight: 1 },
    checkpoint: { store },
    evaluate: async ({ epoch }) => ({ error: metricAt(epoch) }),
    callbacks,
  });

describe('training callbacks', () => {
  it('early stopping ends the run after `patience` evaluations without improvement, and stays stopped on rerun', async () => {
    const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'distillery-es-')), 'run.safetensors'));
    // error: 0.5, 0.4, 0.3, then flat at 0.35: best at epoch 2, stop after epoch 4 (patience 2).
    const curve = (epoch: number) => (epoch < 3 ? 0.5 - epoch * 0.1 : 0.35);
    const seen: string[] = [];
    const recorder: TrainingCallback = {
      name: 'recorder',
      onStart: (i) => void seen.push(`start ${i.step} ${i.resumed}`),
      onEvaluation: (e) => void seen.push(`eval ${e.epoch}`),
      onEnd: (s) => void seen.push(`end ${s.steps} ${s.stopped}`),
    };
    const stopper = earlyStopping({ metric: 'error', patience: 2 });
    const summary = await make(store, [stopper, recorder], curve).run();
    expect(summary).toMatchObject({ stopped: true, steps: 10, metrics: { error: 0.35 } });
    expect(stopper.best).toBeCloseTo(0.3);
    expect(seen).toEqual(['start 0 false', 'eval 0', 'eval 1', 'eval 2', 'eval 3', 'eval 4', 'end 10 true']);
    seen.length = 0;
    const again = await make(store, [earlyStopping({ metric: 'error', patience: 2 }), recorder], curve).run();
    expect(again).toMatchObject({ stopped: true, steps: 10, metrics: { error: 0.35 } });
    expect(seen).toEqual(['start 10 true', 'end 10 true']);
  });

  it('rejects a metric the evaluation does not return, naming the known ones', async () => {
    const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'distillery-es-')), 'run.safetensors'));
    const error = await make(store, [earlyStopping({ metric: 'accuracy' })], () => 0.1)
      .run()
      .catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_CONFIG')).toBe(true);
    expect((error as Error).message).toContain("not among the evaluation's metrics: error");
  });

  it('refuses two callbacks with one name', async () => {
    const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'distillery-es-')), 'run.safetensors'));
    expect(() => make(store, [{ name: 'a' }, { name: 'a' }], () => 0)).toThrow(/distinct names/);
  });
});
