import { CommandRecorder, zerosTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { recordRmsNormBackward, rmsNorm, rmsNormBackward } from './rms-norm.js';
import { rmsNormBackwardReference, rmsNormReference } from './reference.js';
import { rmsNormKernel } from './rms-norm.wgsl.js';

const EPS = 1e-5;

gpuDescribe('RMSNorm kernels', () => {
  gpuTest('forward and backward match the float64 reference (odd widths)', async ({ device }) => {
    for (const [rows, cols] of [
      [3, 5],
      [17, 64],
      [4, 300],
    ] as const) {
      // Rows of very different scale (the 1e-3 row is where eps matters).
      const x = randn(rows * cols, cols).map((v, i) => v * [1, 1e-3, 30][Math.floor(i / cols) % 3]!);
      const weight = randn(cols, 2).map((v) => 1 + 0.3 * v);
      const dy = randn(rows * cols, 4);
      const X = upload(device, x, [rows, cols], 'x');
      const W = upload(device, weight, [cols], 'w');
      const { y, rstd } = await rmsNorm(X, W, EPS);
      const ref = rmsNormReference(x, weight, cols, EPS);
      // f32 sum of `cols` squares: relative error ≤ (cols + 4)·2⁻²⁴ in ρ², half that in ρ.
      const rel = (cols + 8) * 2 ** -24;
      const r0 = worstRatio(await read(y), ref.y, (i) => rel * Math.abs(ref.y[i]!) + 1e-7);
      expect(r0.ratio, `[${rows}, ${cols}] y[${r0.index}]`).toBeLessThanOrEqual(1);
      expect(worstRatio(await read(rstd), ref.rstd, (i) => rel * ref.rstd[i]!).ratio).toBeLessThanOrEqual(1);
      const grads = await rmsNormBackward(upload(device, dy, [rows, cols], 'dy'), X, W, rstd);
      const want = rmsNormBackwardReference(dy, x, weight, cols, EPS);
      // dx = ρ·g − ρ³·x·Σ(g·x)/cols: bound the error by the magnitudes of both terms, not by the result.
      const gxAbs = Array.from({ length: rows }, (_, r) => {
        let s = 0;
        for (let d = 0; d < cols; d++) s += Math.abs(dy[r * cols + d]! * weight[d]! * x[r * cols + d]!);
        return s;
      });
      const dxScale = (i: number) => {
        const r = Math.floor(i / cols);
        const rho = want.rstd[r]!;
        return rho * Math.abs(dy[i]! * weight[i % cols]!) + (rho ** 3 * Math.abs(x[i]!) * gxAbs[r]!) / cols;
      };
      const rdx = worstRatio(await read(grads.dx), want.dx, (i) => 3 * rel * dxScale(i) + 1e-7);
      expect(rdx.ratio, `[${rows}, ${cols}] dx[${rdx.index}]`).toBeLessThanOrEqual(1);
      const absSum = new Float64Array(cols);
      for (let i = 0; i < x.length; i++) absSum[i % cols]! += Math.abs(dy[i]! * x[i]! * want.rstd[Math.floor(i / cols)]!);
      const rdw = worstRatio(await read(grads.dweight), want.dweight, (i) => (rows + cols + 8) * 2 ** -24 * absSum[i]! + 1e-7);
      expect(rdw.ratio, `[${rows}, ${cols}] dweight[${rdw.index}]`).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('finite differences of Σ R⊙RMSNorm(x; w) agree with dx and dw', async ({ device }) => {
    const rows = 4;
    const cols = 12;
    const x = randn(rows * cols, 10);
    const weight = randn(cols, 11).map((v) => 1 + 0.3 * v);
    const r = randn(rows * cols, 13);
    const loss = async () => {
      const { y } = await rmsNorm(upload(device, x, [rows, cols], 'x'), upload(device, weight, [cols], 'w'), EPS);
      return probe(await read(y), r);
    };
    const X = upload(device, x, [rows, cols], 'x');
    const W = upload(device, weight, [cols], 'w');
    const { rstd } = await rmsNorm(X, W, EPS);
    const grads = await rmsNormBackward(upload(device, r, [rows, cols], 'r'), X, W, rstd);
    for (const [values, grad] of [
      [x, await read(grads.dx)],
      [weight, await read(grads.dweight)],
    ] as const) {
      const check = await finiteDifferenceCheck({
        x: values,
        grad,
        loss,
        indices: sampleIndices(values.length, 10, values.length),
        eps: 1e-2,
        atol: 2e-3,
        rtol: 5e-3,
      });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('accumulates dw into the existing gradient, and skips dx when not asked', async ({ device }) => {
    const rows = 5;
    const cols = 7;
    const x = randn(rows * cols, 20);
    const weight = randn(cols, 21);
    const dy = randn(rows * cols, 22);
    const X = upload(device, x, [rows, cols], 'x');
    const W = upload(device, weight, [cols], 'w');
    const { rstd } = await rmsNorm(X, W, EPS);
    const before = randn(cols, 23);
    const dweight = upload(device, before, [cols], 'dw');
    const recorder = new CommandRecorder(device, 'rms-acc');
    recordRmsNormBackward(recorder, upload(device, dy, [rows, cols], 'dy'), X, W, rstd, undefined, dweight);
    await recorder.submit();
    const want = rmsNormBackwardReference(dy, x, weight, cols, EPS).dweight.map((v, i) => v + before[i]!);
    expect(worstRatio(await read(dweight), want, (i) => 1e-5 * (1 + Math.abs(want[i]!))).ratio).toBeLessThanOrEqual(1);
  });

  gpuTest('rejects a weight that does not match the last dimension, a wrong rstd and a bad eps', async ({ device }) => {
    const x = upload(device, new Float32Array(6), [2, 3], 'x');
    await expect(rmsNorm(x, upload(device, new Float32Array(2), [2], 'w'), EPS)).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'w' },
    });
    await expect(rmsNorm(x, upload(device, new Float32Array(3), [3], 'w'), 0)).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'rmsNorm.eps' },
    });
    const w = upload(device, new Float32Array(3), [3], 'w');
    await expect(rmsNormBackward(x, x, w, zerosTensor(device, { shape: [3], dtype: 'f32', label: 'rstd' }))).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'rstd' },
    });
  });
});

kernelSnapshots(import.meta.dirname, rmsNormKernel, [
  { pass: 'forward', accumulate: false, workgroupSize: 64, subgroups: false },
  { pass: 'forward', accumulate: false, workgroupSize: 64, subgroups: true },
  { pass: 'backward', accumulate: false, workgroupSize: 64, subgroups: false },
  { pass: 'backward', accumulate: false, workgroupSize: 64, subgroups: true },
  { pass: 'param-grad', accumulate: true, workgroupSize: 64, subgroups: false },
  { pass: 'param-grad', accumulate: false, workgroupSize: 64, subgroups: false },
]);
