import { CommandRecorder } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { ropeReference, type RopeLayout, type RopeOptions } from './reference.js';
import { recordRope, rope } from './rope.js';
import { ropeKernel } from './rope.wgsl.js';

/**
 * θ = p·freq carries f32 rounding of the product and of freq (about an ulp of θ on lavapipe,
 * a quarter of this bound), and cos/sin add ~1e-7: each output's error is bounded by (|x0| + |x1|)·(that
 * angle error).
 */
function ropeTolerance(x: Float32Array, o: RopeOptions) {
  const width = o.heads * o.headDim;
  return (i: number) => {
    const r = Math.floor(i / width);
    const pos = (r % o.context) + (o.positionOffset ?? 0);
    const head = i - (i % o.headDim);
    let mag = 0;
    for (let e = head; e < head + o.headDim; e++) mag = Math.max(mag, Math.abs(x[e]!));
    return 2 * mag * (4 * 2 ** -24 * (1 + pos) + 2e-7) + 1e-8;
  };
}

gpuDescribe('rotary position embedding (RoPE)', () => {
  for (const layout of ['norm', 'neox'] as const satisfies readonly RopeLayout[]) {
    gpuTest(
      `${layout}: matches the float64 reference (partial rotation, offsets, long positions), in and out of place`,
      async ({ device }) => {
        for (const o of [
          { sequences: 3, context: 5, heads: 3, headDim: 8, ropeDims: 8, base: 10000, layout },
          { sequences: 2, context: 7, heads: 2, headDim: 10, ropeDims: 6, base: 500, positionOffset: 3, layout },
          { sequences: 1, context: 4, heads: 1, headDim: 64, ropeDims: 64, base: 10000, positionOffset: 4000, layout },
        ] satisfies RopeOptions[]) {
          const rows = o.sequences * o.context;
          const width = o.heads * o.headDim;
          const x = randn(rows * width, width + o.context);
          const tol = ropeTolerance(x, o);
          for (const inverse of [false, true]) {
            const want = ropeReference(x, { ...o, inverse });
            const got = await read(await rope(upload(device, x, [rows, width], 'x'), { ...o, inverse }));
            const r = worstRatio(got, want, tol);
            expect(r.ratio, `${JSON.stringify(o)} inverse=${inverse} y[${r.index}]`).toBeLessThanOrEqual(1);
          }
          const X = upload(device, x, [rows, width], 'x');
          const recorder = new CommandRecorder(device, 'rope-in-place');
          recordRope(recorder, X, X, o);
          await recorder.submit();
          expect(worstRatio(await read(X), ropeReference(x, o), tol).ratio).toBeLessThanOrEqual(1);
        }
      },
    );
  }

  gpuTest('the layouts rotate the pairs they name: norm (x[2i], x[2i+1]), neox (x[i], x[i+d/2])', () => {
    // A unit vector on element 1 at position 1, one head of 4 dims, base 100: θ₀ = 1, θ₁ = 0.1.
    const o = { sequences: 1, context: 2, heads: 1, headDim: 4, ropeDims: 4, base: 100 };
    const x = Float32Array.from([0, 0, 0, 0, 0, 1, 0, 0]);
    // norm: element 1 is the second of pair 0 → (−sin 1, cos 1) on elements 0, 1.
    expect(Array.from(ropeReference(x, { ...o, layout: 'norm' }).subarray(4))).toEqual([-Math.sin(1), Math.cos(1), 0, 0]);
    // neox: element 1 is the first of pair 1 (with element 3) → (cos 0.1, sin 0.1) on elements 1, 3.
    const neox = ropeReference(x, { ...o, layout: 'neox' }).subarray(4);
    expect(neox[0]).toBe(0);
    expect(neox[1]).toBeCloseTo(Math.cos(0.1), 14);
    expect(neox[2]).toBe(0);
    expect(neox[3]).toBeCloseTo(Math.sin(0.1), 14);
  });

  gpuTest('the backward (rotation by −θ) agrees with finite differences of Σ R⊙RoPE(x)', async ({ device }) => {
    for (const layout of ['norm', 'neox'] as const) {
      const o = { sequences: 2, context: 3, heads: 2, headDim: 6, ropeDims: 4, base: 10000, positionOffset: 2, layout };
      const rows = o.sequences * o.context;
      const width = o.heads * o.headDim;
      const x = randn(rows * width, 30);
      const r = randn(rows * width, 31);
      const loss = async () => probe(await read(await rope(upload(device, x, [rows, width], 'x'), o)), r);
      const grad = await read(await rope(upload(device, r, [rows, width], 'dy'), { ...o, inverse: true }));
      const check = await finiteDifferenceCheck({
        x,
        grad,
        loss,
        indices: sampleIndices(x.length, 16, 32),
        eps: 1e-2,
        atol: 1e-3,
        rtol: 5e-3,
      });
      expect(check.worst, `${layout}\n${check.details.join('\n')}`).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('rejects bad shapes and parameters, naming the field', async ({ device }) => {
    const o = { sequences: 2, context: 3, heads: 2, headDim: 4, ropeDims: 4, base: 10000, layout: 'norm' as const };
    const x = upload(device, new Float32Array(6 * 8), [6, 8], 'q');
    await expect(rope(upload(device, new Float32Array(5 * 8), [5, 8], 'q'), o)).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'q' },
    });
    for (const [field, value] of [
      ['headDim', 3],
      ['ropeDims', 3],
      ['ropeDims', 6],
      ['base', 0],
      ['positionOffset', -1],
      ['context', 0],
      ['layout', 'gptj'],
    ] as const) {
      await expect(rope(x, { ...o, [field]: value } as RopeOptions)).rejects.toMatchObject({
        code: 'E_BAD_VALUE',
        details: { field: `rope.${field}`, value },
      });
    }
  });
});

kernelSnapshots(import.meta.dirname, ropeKernel, [
  { layout: 'norm', inPlace: false, workgroupSize: 256 },
  { layout: 'norm', inPlace: true, workgroupSize: 256 },
  { layout: 'neox', inPlace: false, workgroupSize: 256 },
  { layout: 'neox', inPlace: true, workgroupSize: 256 },
]);
