import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { attentionReference } from '../attention/attention.js';
import { gqaAttention, gqaAttentionBackward, releaseGqaAttention } from './gqa-attention.js';
import { gqaAttentionBackwardReference, gqaAttentionReference, type GqaShape } from './reference.js';
import { gqaAttentionKernel } from './gqa-attention.wgsl.js';

function inputs(s: GqaShape, seed: number) {
  const rows = s.sequences * s.context;
  return {
    rows,
    q: randn(rows * s.heads * s.headDim, seed, 1.5),
    k: randn(rows * s.kvHeads * s.headDim, seed + 1, 1.5),
    v: randn(rows * s.kvHeads * s.headDim, seed + 2),
  };
}

gpuDescribe('grouped-query causal attention (fused)', () => {
  gpuTest(
    'forward and backward match the float64 reference (GQA, MQA and MHA; odd contexts, head dims 3, 8 and the largest, 64)',
    async ({ device }) => {
      for (const s of [
        { sequences: 2, context: 7, heads: 6, kvHeads: 2, headDim: 8 },
        { sequences: 3, context: 5, heads: 3, kvHeads: 1, headDim: 3 },
        { sequences: 1, context: 33, heads: 2, kvHeads: 2, headDim: 3 },
        { sequences: 1, context: 6, heads: 2, kvHeads: 1, headDim: 64 },
      ] satisfies GqaShape[]) {
        const { rows, q, k, v } = inputs(s, s.context);
        const dout = randn(q.length, 99);
        const Q = upload(device, q, [rows, s.heads * s.headDim], 'q');
        const K = upload(device, k, [rows, s.kvHeads * s.headDim], 'k');
        const V = upload(device, v, [rows, s.kvHeads * s.headDim], 'v');
        const { out, saved } = await gqaAttention(Q, K, V, s);
        const want = gqaAttentionReference(q, k, v, s);
        const r = worstRatio(await read(out), want, (i) => 2e-6 * (1 + Math.abs(want[i]!)));
        expect(r.ratio, `${JSON.stringify(s)} out[${r.index}]`).toBeLessThanOrEqual(1);
        const grads = await gqaAttentionBackward(saved, upload(device, dout, [rows, s.heads * s.headDim], 'dout'));
        const ref = gqaAttentionBackwardReference(q, k, v, dout, s);
        for (const [name, got, exp] of [
          ['dq', grads.dq, ref.dq],
          ['dk', grads.dk, ref.dk],
          ['dv', grads.dv, ref.dv],
        ] as const) {
          const rg = worstRatio(await read(got), exp, (i) => 1e-5 * (1 + Math.abs(exp[i]!)));
          expect(rg.ratio, `${JSON.stringify(s)} ${name}[${rg.index}]`).toBeLessThanOrEqual(1);
        }
        releaseGqaAttention(saved);
      }
    },
  );

  gpuTest('with one kv head per query head it is the multi-head attention of the existing reference', () => {
    const s = { sequences: 2, context: 5, heads: 2, kvHeads: 2, headDim: 4 };
    const { rows, q, k, v } = inputs(s, 7);
    const D = s.heads * s.headDim;
    const qkv = new Float32Array(rows * 3 * D);
    for (let r = 0; r < rows; r++) {
      qkv.set(q.subarray(r * D, (r + 1) * D), r * 3 * D);
      qkv.set(k.subarray(r * D, (r + 1) * D), r * 3 * D + D);
      qkv.set(v.subarray(r * D, (r + 1) * D), r * 3 * D + 2 * D);
    }
    const other = attentionReference(qkv, { batch: s.sequences, context: s.context, heads: s.heads, headDim: s.headDim });
    const mine = gqaAttentionReference(q, k, v, s);
    expect(worstRatio(mine, other, () => 1e-12).ratio).toBeLessThanOrEqual(1);
  });

  gpuTest('finite differences of Σ R⊙attention(q, k, v) agree with dq, dk and dv', async ({ device }) => {
    const s = { sequences: 2, context: 4, heads: 4, kvHeads: 2, headDim: 3 };
    const { rows, q, k, v } = inputs(s, 40);
    const r = randn(q.length, 43);
    const loss = async () => {
      const { out, saved } = await gqaAttention(
        upload(device, q, [rows, 12], 'q'),
        upload(device, k, [rows, 6], 'k'),
        upload(device, v, [rows, 6], 'v'),
        s,
      );
      releaseGqaAttention(saved);
      return probe(await read(out), r);
    };
    const { saved } = await gqaAttention(
      upload(device, q, [rows, 12], 'q'),
      upload(device, k, [rows, 6], 'k'),
      upload(device, v, [rows, 6], 'v'),
      s,
    );
    const grads = await gqaAttentionBackward(saved, upload(device, r, [rows, 12], 'r'));
    for (const [name, values, grad] of [
      ['q', q, await read(grads.dq)],
      ['k', k, await read(grads.dk)],
      ['v', v, await read(grads.dv)],
    ] as const) {
      const check = await finiteDifferenceCheck({
        x: values,
        grad,
        loss,
        indices: sampleIndices(values.length, 12, values.length),
        eps: 1e-2,
        atol: 1e-3,
        rtol: 5e-3,
      });
      expect(check.worst, `${name}\n${check.details.join('\n')}`).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('rejects bad head counts and mismatched tensors, naming the field', async ({ device }) => {
    const s = { sequences: 1, context: 2, heads: 4, kvHeads: 2, headDim: 2 };
    const q = upload(device, new Float32Array(16), [2, 8], 'q');
    const kv = upload(device, new Float32Array(8), [2, 4], 'k');
    await expect(gqaAttention(q, kv, kv, { ...s, kvHeads: 3 })).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'gqaAttention.kvHeads', value: 3 },
    });
    await expect(gqaAttention(q, kv, kv, { ...s, headDim: 65 })).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'gqaAttention.headDim' },
    });
    await expect(gqaAttention(q, upload(device, new Float32Array(16), [2, 8], 'k'), kv, s)).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'k', value: [2, 8] },
    });
    const { saved } = await gqaAttention(q, kv, kv, s);
    await expect(gqaAttentionBackward(saved, upload(device, new Float32Array(8), [2, 4], 'dout'))).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'dout' },
    });
  });
});

kernelSnapshots(import.meta.dirname, gqaAttentionKernel, [
  { pass: 'forward', headDim: 8, workgroupSize: 64 },
  { pass: 'dq', headDim: 8, workgroupSize: 64 },
  { pass: 'dkdv', headDim: 8, workgroupSize: 64 },
]);
