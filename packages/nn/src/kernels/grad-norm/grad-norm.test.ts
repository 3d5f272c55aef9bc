import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { randn, upload } from '../../../test/helpers.js';
import { gradNorm, gradNormReference } from './grad-norm.js';
import { gradNormFinalizeKernel, sumSquaresKernel } from './grad-norm.wgsl.js';

gpuDescribe('global gradient norm', () => {
  gpuTest('matches the float64 norm over several tensors, with the clip scale', async ({ device }) => {
    const grads = [randn(10, 1), randn(800 * 784, 2, 0.01), randn(100_003, 3)];
    const tensors = grads.map((g, i) => upload(device, g, [g.length], `g${i}`));
    for (const maxNorm of [0, 1, 1e6]) {
      const got = await gradNorm(tensors, maxNorm);
      const want = gradNormReference(grads, maxNorm);
      expect(got.finite).toBe(true);
      expect(got.norm).toBeCloseTo(want.norm, 3);
      expect(Math.abs(got.scale - want.scale)).toBeLessThan(1e-6 * want.scale + 1e-9);
      grads.forEach((g, i) => expect(got.perTensor[i]).toBeCloseTo(gradNormReference([g]).norm ** 2, 1));
    }
  });

  gpuTest('flags NaN and Inf, and says in which tensor', async ({ device }) => {
    const ok = randn(50, 4);
    const bad = randn(5000, 5);
    bad[4321] = Number.NaN;
    const inf = randn(7, 6);
    inf[0] = Number.POSITIVE_INFINITY;
    const result = await gradNorm([upload(device, ok, [50], 'ok'), upload(device, bad, [5000], 'bad')]);
    expect(result.finite).toBe(false);
    expect(Number.isFinite(result.perTensor[0]!)).toBe(true);
    expect(Number.isNaN(result.perTensor[1]!)).toBe(true);
    expect((await gradNorm([upload(device, inf, [7], 'inf')], 1)).finite).toBe(false);
  });
});

kernelSnapshots(import.meta.dirname, sumSquaresKernel, [
  { workgroupSize: 256, subgroups: false },
  { workgroupSize: 256, subgroups: true },
]);
kernelSnapshots(import.meta.dirname, gradNormFinalizeKernel, [{}]);
