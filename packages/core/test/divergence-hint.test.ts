import { describe, expect, it } from 'vitest';
import { DistilleryError } from '../src/index.js';
import { withDivergenceHint } from '../src/divergence-hint.js';

describe('a loss that turns NaN after optimiser steps names the learning rate', () => {
  const symptom = new DistilleryError('E_NON_FINITE', 'studentLogits row 0 contains NaN or +Infinity', { field: 'studentLogits', row: 0 });

  it('after steps: E_NON_FINITE with field lr, its value and the symptom', () => {
    const hinted = withDivergenceHint(symptom, 12, 1e12) as DistilleryError;
    expect(hinted).toMatchObject({
      code: 'E_NON_FINITE',
      details: { field: 'lr', value: 1e12, step: 12, symptomField: 'studentLogits', row: 0 },
    });
    expect(hinted.message).toContain('lr = 1000000000000');
    expect(hinted.message).toContain('studentLogits row 0');
  });

  it('at step 0 (bad input, not divergence) and for other errors: unchanged', () => {
    expect(withDivergenceHint(symptom, 0, 1e12)).toBe(symptom);
    const other = new DistilleryError('E_BAD_VALUE', 'x', { field: 'labels' });
    expect(withDivergenceHint(other, 5, 1e12)).toBe(other);
  });
});

describe('Distiller: divergence after some steps', () => {
  it('stops with E_NON_FINITE naming lr when the loss kernel reports NaN logits at step > 0', async () => {
    const { Distiller, constant } = await import('../src/index.js');
    const { CpuKdLoss, CpuLinearStudent, CpuSgd, blobData } = await import('./cpu-fixtures.js');
    const inner = new CpuKdLoss();
    let calls = 0;
    // The kernels' behaviour once the weights blew up: the readback flags NaN student logits.
    const diverging: typeof inner = Object.assign(Object.create(Object.getPrototypeOf(inner) as object), inner, {
      compute: async (inputs: Parameters<typeof inner.compute>[0]) => {
        const out = await inner.compute(inputs);
        if (++calls < 3) return out;
        return {
          ...out,
          total: async () =>
            Promise.reject(
              new DistilleryError('E_NON_FINITE', 'studentLogits row 0 contains NaN or +Infinity', { field: 'studentLogits', row: 0 }),
            ),
        };
      },
    });
    const run = new Distiller({
      student: new CpuLinearStudent(4, 3, 1),
      loss: diverging,
      optimizer: new CpuSgd(),
      data: blobData(256, 4, 3, 32, 3),
      labels: (b) => b.labels,
      epochs: 1,
      schedules: { lr: constant(1e12), softWeight: constant(0), hardWeight: constant(1) },
    }).run();
    await expect(run).rejects.toMatchObject({
      code: 'E_NON_FINITE',
      details: { field: 'lr', value: 1e12, step: 2, symptomField: 'studentLogits' },
    });
  });
});
