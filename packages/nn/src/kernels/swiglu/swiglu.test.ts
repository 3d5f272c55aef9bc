import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { swiglu, swigluBackward } from './swiglu.js';
import { swigluBackwardReference, swigluReference } from './reference.js';
import { swigluKernel } from './swiglu.wgsl.js';

gpuDescribe('SwiGLU kernels', () => {
  gpuTest('forward and backward match the float64 reference, extreme gates included', async ({ device }) => {
    const rows = 7;
    const cols = 43;
    const n = rows * cols;
    const gate = randn(n, 1, 3);
    // Saturated gates: σ → 0 must give exact zeros, not NaN; σ → 1 makes silu the identity.
    gate.set([-1000, -100, -88, 88, 100, 1000, 0], 0);
    const up = randn(n, 2);
    const dout = randn(n, 3);
    const G = upload(device, gate, [rows, cols], 'gate');
    const U = upload(device, up, [rows, cols], 'up');
    const out = await read(await swiglu(G, U));
    const want = swigluReference(gate, up);
    // exp and the division: a few ulps of the result, plus the absolute error of 1 + e^−g near σ ≈ 0.
    const r = worstRatio(out, want, (i) => 1e-6 * Math.abs(want[i]!) + 1e-7);
    expect(r.ratio, `out[${r.index}] = ${out[r.index]}`).toBeLessThanOrEqual(1);
    const grads = await swigluBackward(upload(device, dout, [rows, cols], 'dout'), G, U);
    const ref = swigluBackwardReference(dout, gate, up);
    const scale = (i: number) => Math.abs(dout[i]!) * (1 + Math.abs(gate[i]!)) * (1 + Math.abs(up[i]!));
    const dg = await read(grads.dgate);
    const du = await read(grads.dup);
    expect(worstRatio(dg, ref.dgate, (i) => 2e-6 * scale(i) + 1e-7).ratio).toBeLessThanOrEqual(1);
    expect(worstRatio(du, ref.dup, (i) => 1e-6 * scale(i) + 1e-7).ratio).toBeLessThanOrEqual(1);
    for (const v of [out, dg, du]) expect(v.every(Number.isFinite)).toBe(true);
  });

  gpuTest('finite differences of Σ R⊙swiglu(gate, up) agree with dgate and dup', async ({ device }) => {
    const n = 40;
    const gate = randn(n, 10, 2);
    const up = randn(n, 11);
    const r = randn(n, 12);
    const loss = async () => probe(await read(await swiglu(upload(device, gate, [n], 'gate'), upload(device, up, [n], 'up'))), r);
    const grads = await swigluBackward(upload(device, r, [n], 'r'), upload(device, gate, [n], 'gate'), upload(device, up, [n], 'up'));
    for (const [values, grad] of [
      [gate, await read(grads.dgate)],
      [up, await read(grads.dup)],
    ] as const) {
      const check = await finiteDifferenceCheck({
        x: values,
        grad,
        loss,
        indices: sampleIndices(n, 12, 7),
        eps: 1e-2,
        atol: 1e-3,
        rtol: 5e-3,
      });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('rejects operands of different shapes', async ({ device }) => {
    const gate = upload(device, new Float32Array(6), [2, 3], 'gate');
    await expect(swiglu(gate, upload(device, new Float32Array(6), [3, 2], 'up'))).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'up', value: [3, 2] },
    });
  });
});

kernelSnapshots(import.meta.dirname, swigluKernel, [
  { backward: false, workgroupSize: 256 },
  { backward: true, workgroupSize: 256 },
]);
