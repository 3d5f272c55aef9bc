import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { describe, expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import type { Activation } from '../activation-math.js';
import type { DropoutSpec } from '../matmul/matmul.js';
import { activate, activationBackward } from './activation.js';
import { activationKernel } from './activation.wgsl.js';
import { activationBackwardReference, activationReference } from './reference.js';

const N = 1001;

gpuDescribe('activation + dropout kernels', () => {
  describe.each<[Activation, DropoutSpec | undefined]>([
    ['none', { p: 0.25, seed: 3, step: 11 }],
    ['relu', undefined],
    ['relu', { p: 0.5, seed: 9, step: 0 }],
    ['gelu', undefined],
    ['gelu', { p: 0.1, seed: 0xffffffff, step: 123456 }],
  ])('%s, dropout %o', (activation, dropout) => {
    gpuTest('forward and backward match the float64 reference', async ({ device }) => {
      const x = randn(N, 1, 2);
      const dy = randn(N, 2);
      const X = upload(device, x, [N], 'x');
      const Y = await activate(X, activation, dropout);
      const scale = dropout ? 1 / (1 - dropout.p) : 1;
      const want = activationReference(x, activation, dropout);
      expect(worstRatio(await read(Y), want, (i) => scale * (2e-6 * (1 + Math.abs(x[i]!)))).ratio).toBeLessThanOrEqual(1);
      const DY = upload(device, dy, [N], 'dy');
      const DX = await activationBackward(DY, X, activation, dropout);
      const wantGrad = activationBackwardReference(dy, x, activation, dropout);
      expect(
        worstRatio(await read(DX), wantGrad, (i) => scale * 4e-6 * (1 + Math.abs(dy[i]!) * (1 + Math.abs(x[i]!)))).ratio,
      ).toBeLessThanOrEqual(1);
    });

    gpuTest('finite differences of Σ R⊙dropout(act(x)) agree with the backward', async ({ device }) => {
      const x = randn(64, 5, 1.5);
      const r = randn(64, 6);
      const loss = async () => {
        const X = upload(device, x, [64], 'x');
        const Y = await activate(X, activation, dropout);
        const value = probe(await read(Y), r);
        X.release();
        Y.release();
        return value;
      };
      const grad = await read(await activationBackward(upload(device, r, [64], 'r'), upload(device, x, [64], 'x'), activation, dropout));
      // Keep away from ReLU's kink, where finite differences are meaningless.
      const indices = sampleIndices(64, 24, 8).filter((i) => Math.abs(x[i]!) > 0.05);
      const check = await finiteDifferenceCheck({ x, grad, loss, indices, eps: 1e-2, atol: 2e-3, rtol: 2e-3 });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    });
  });

  gpuTest('ReLU backward gives the same gradient from the output as from the pre-activation', async ({ device }) => {
    const x = randn(N, 20);
    const dy = randn(N, 21);
    const dropout = { p: 0.3, seed: 5, step: 2 };
    const X = upload(device, x, [N], 'x');
    const Y = await activate(X, 'relu', dropout);
    const DY = upload(device, dy, [N], 'dy');
    expect(Array.from(await read(await activationBackward(DY, Y, 'relu', dropout)))).toEqual(
      Array.from(await read(await activationBackward(DY, X, 'relu', dropout))),
    );
  });

  gpuTest('the dropout mask keeps ≈ 1 − p, is a pure function of (seed, step, index) and changes with the step', async ({ device }) => {
    const n = 20_000;
    const ones = upload(device, new Float32Array(n).fill(1), [n], 'ones');
    const a = await read(await activate(ones, 'none', { p: 0.3, seed: 42, step: 1 }));
    const b = await read(await activate(ones, 'none', { p: 0.3, seed: 42, step: 1 }));
    const c = await read(await activate(ones, 'none', { p: 0.3, seed: 42, step: 2 }));
    expect(Array.from(a)).toEqual(Array.from(b));
    const kept = a.filter((v) => v !== 0).length / n;
    expect(kept).toBeGreaterThan(0.68);
    expect(kept).toBeLessThan(0.72);
    expect(a.find((v) => v !== 0)).toBeCloseTo(1 / 0.7, 6);
    let same = 0;
    for (let i = 0; i < n; i++) if ((a[i] === 0) === (c[i] === 0)) same++;
    expect(same / n).toBeLessThan(0.65);
  });

  gpuTest('rejects p outside [0, 1) and mismatched sizes', async ({ device }) => {
    const x = upload(device, new Float32Array(4), [4], 'x');
    await expect(activate(x, 'relu', { p: 1, seed: 0, step: 0 })).rejects.toThrowError(/dropout\.p must be a number in \[0, 1\)/);
    const y = upload(device, new Float32Array(5), [5], 'y');
    await expect(activationBackward(x, y, 'relu')).rejects.toMatchObject({ code: 'E_BAD_VALUE' });
  });
});

kernelSnapshots(import.meta.dirname, activationKernel, [
  { activation: 'gelu', dropout: true, backward: false, workgroupSize: 256 },
  { activation: 'relu', dropout: false, backward: false, workgroupSize: 256 },
  { activation: 'none', dropout: true, backward: true, workgroupSize: 256 },
  { activation: 'gelu', dropout: false, backward: true, workgroupSize: 256 },
]);
