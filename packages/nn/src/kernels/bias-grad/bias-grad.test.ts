import { CommandRecorder } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, upload, worstRatio } from '../../../test/helpers.js';
import { matmul } from '../matmul/matmul.js';
import { biasGrad, biasGradReference, recordBiasGrad } from './bias-grad.js';
import { biasGradKernel } from './bias-grad.wgsl.js';

gpuDescribe('bias-grad (column sum) kernel', () => {
  gpuTest('matches the float64 reference, with and without accumulation', async ({ device }) => {
    for (const [rows, cols] of [
      [1, 1],
      [128, 10],
      [37, 300],
    ] as const) {
      const g = randn(rows * cols, rows + cols);
      const G = upload(device, g, [rows, cols], 'g');
      const want = biasGradReference(g, cols);
      const tol = (i: number) => (rows + 2) * 2 ** -24 * rows * 4 + 1e-7 * Math.abs(want[i]!);
      expect(worstRatio(await read(await biasGrad(G)), want, tol).ratio).toBeLessThanOrEqual(1);
      const start = randn(cols, 99);
      const DB = upload(device, start, [cols], 'db');
      const recorder = new CommandRecorder(device);
      recordBiasGrad(recorder, G, DB, { accumulate: true });
      await recorder.submit();
      expect(
        worstRatio(
          await read(DB),
          Float64Array.from(want, (v, i) => v + start[i]!),
          (i) => tol(i) + 1e-6,
        ).ratio,
      ).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('finite differences of Σ R⊙(X·Wᵀ + b) w.r.t. b agree with Σrows R', async ({ device }) => {
    const x = randn(7 * 5, 1);
    const w = randn(3 * 5, 2);
    const b = randn(3, 3);
    const r = randn(7 * 3, 4);
    const X = upload(device, x, [7, 5], 'x');
    const W = upload(device, w, [3, 5], 'w');
    const loss = async () => probe(await read(await matmul(X, W, { transB: true, bias: upload(device, b, [3], 'b') })), r);
    const grad = await read(await biasGrad(upload(device, r, [7, 3], 'r')));
    const check = await finiteDifferenceCheck({ x: b, grad, loss, indices: [0, 1, 2], eps: 1e-2, atol: 1e-3, rtol: 1e-3 });
    expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
  });
});

kernelSnapshots(import.meta.dirname, biasGradKernel, [
  { accumulate: false, workgroupSize: 64 },
  { accumulate: true, workgroupSize: 64 },
]);
