import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { layerNorm, layerNormBackward } from './layer-norm.js';
import { layerNormKernel } from './layer-norm.wgsl.js';
import { layerNormBackwardReference, layerNormReference } from './reference.js';

gpuDescribe('layer norm kernels', () => {
  gpuTest('forward and backward match the float64 reference (odd widths, offset rows)', async ({ device }) => {
    for (const [rows, cols] of [
      [3, 5],
      [17, 64],
      [4, 300],
    ] as const) {
      // A large common offset per row: the two-pass variance must not cancel catastrophically.
      const x = randn(rows * cols, cols).map((v, i) => v + 50 * Math.floor(i / cols));
      const gamma = randn(cols, 2).map((v) => 1 + 0.1 * v);
      const beta = randn(cols, 3);
      const dy = randn(rows * cols, 4);
      const X = upload(device, x, [rows, cols], 'x');
      const G = upload(device, gamma, [cols], 'gamma');
      const { y, stats } = await layerNorm(X, G, upload(device, beta, [cols], 'beta'));
      const ref = layerNormReference(x, gamma, beta, cols);
      // f32 sums of `cols` values of size |mean| + a few σ: the bound scales with the offset.
      const rowTol = (i: number) =>
        2 ** -24 * (cols + 2) * (Math.abs(ref.mean[Math.floor(i / cols)]!) + 4) * ref.rstd[Math.floor(i / cols)]!;
      const tolY = (i: number) => Math.abs(gamma[i % cols]!) * rowTol(i) + 1e-5 * (1 + Math.abs(ref.y[i]!));
      const r = worstRatio(await read(y), ref.y, tolY);
      expect(r.ratio, `[${rows}, ${cols}] y[${r.index}]`).toBeLessThanOrEqual(1);
      const grads = await layerNormBackward(upload(device, dy, [rows, cols], 'dy'), X, G, stats);
      const want = layerNormBackwardReference(dy, x, gamma, cols);
      expect(
        worstRatio(await read(grads.dx), want.dx, (i) => 8 * rowTol(i) * (1 + Math.abs(dy[i]!)) + 5e-5 * (1 + Math.abs(want.dx[i]!))).ratio,
      ).toBeLessThanOrEqual(1);
      expect(
        worstRatio(
          await read(grads.dgamma),
          want.dgamma,
          (i) => rows * 8 * rowTol(rows * cols - cols + i) + 1e-4 * (rows + Math.abs(want.dgamma[i]!)),
        ).ratio,
      ).toBeLessThanOrEqual(1);
      expect(worstRatio(await read(grads.dbeta), want.dbeta, (i) => 1e-5 * (rows + Math.abs(want.dbeta[i]!))).ratio).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('finite differences of Σ R⊙LN(x; γ, β) agree with dx, dγ and dβ', async ({ device }) => {
    const rows = 4;
    const cols = 12;
    const x = randn(rows * cols, 10);
    const gamma = randn(cols, 11).map((v) => 1 + 0.3 * v);
    const beta = randn(cols, 12);
    const r = randn(rows * cols, 13);
    const loss = async () => {
      const { y } = await layerNorm(
        upload(device, x, [rows, cols], 'x'),
        upload(device, gamma, [cols], 'g'),
        upload(device, beta, [cols], 'b'),
      );
      return probe(await read(y), r);
    };
    const X = upload(device, x, [rows, cols], 'x');
    const G = upload(device, gamma, [cols], 'g');
    const { stats } = await layerNorm(X, G, upload(device, beta, [cols], 'b'));
    const grads = await layerNormBackward(upload(device, r, [rows, cols], 'r'), X, G, stats);
    for (const [values, grad] of [
      [x, await read(grads.dx)],
      [gamma, await read(grads.dgamma)],
      [beta, await read(grads.dbeta)],
    ] as const) {
      const check = await finiteDifferenceCheck({
        x: values,
        grad,
        loss,
        indices: sampleIndices(values.length, 8, values.length),
        eps: 1e-2,
        atol: 2e-3,
        rtol: 5e-3,
      });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('rejects a γ that does not match the last dimension', async ({ device }) => {
    const x = upload(device, new Float32Array(6), [2, 3], 'x');
    await expect(
      layerNorm(x, upload(device, new Float32Array(2), [2], 'g'), upload(device, new Float32Array(3), [3], 'b')),
    ).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
  });
});

kernelSnapshots(import.meta.dirname, layerNormKernel, [
  { pass: 'forward', accumulate: false, workgroupSize: 64, subgroups: false },
  { pass: 'forward', accumulate: false, workgroupSize: 64, subgroups: true },
  { pass: 'backward', accumulate: false, workgroupSize: 64, subgroups: false },
  { pass: 'backward', accumulate: false, workgroupSize: 64, subgroups: true },
  { pass: 'param-grad', accumulate: true, workgroupSize: 64, subgroups: false },
  { pass: 'param-grad', accumulate: false, workgroupSize: 64, subgroups: false },
]);
