import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { mergeHeads, splitHeads } from '../heads/heads.js';
import { attention, attentionBackward, attentionReference, releaseAttention } from './attention.js';

const shape = { batch: 2, context: 5, heads: 2, headDim: 4 };
const D = shape.heads * shape.headDim;
const rows = shape.batch * shape.context;

gpuDescribe('causal self-attention', () => {
  gpuTest('split/merge heads are inverse permutations', async ({ device }) => {
    const x = randn(rows * 3 * D, 1);
    const heads = await splitHeads(upload(device, x, [rows, 3 * D], 'qkv'), 3, shape);
    // K of batch 1, head 1, token 2, element 3 comes from token row 1·5 + 2, part 1, head 1.
    expect((await read(heads[1]!))[((1 * 2 + 1) * 5 + 2) * 4 + 3]).toBe(x[(1 * 5 + 2) * 3 * D + 1 * D + 1 * 4 + 3]);
    expect(Array.from(await read(await mergeHeads(heads, shape)))).toEqual(Array.from(x));
  });

  gpuTest('forward matches the float64 reference, and no token attends to a later one', async ({ device }) => {
    const qkv = randn(rows * 3 * D, 2);
    const { out, saved } = await attention(upload(device, qkv, [rows, 3 * D], 'qkv'), shape);
    const want = attentionReference(qkv, shape);
    expect(worstRatio(await read(out), want, (i) => 1e-5 * (1 + Math.abs(want[i]!))).ratio).toBeLessThanOrEqual(1);
    // Changing the last token changes no earlier output.
    const changed = qkv.slice();
    for (let i = (shape.context - 1) * 3 * D; i < shape.context * 3 * D; i++) changed[i] = 9;
    const other = await read((await attention(upload(device, changed, [rows, 3 * D], 'qkv2'), shape)).out);
    const first = await read(out);
    expect(Array.from(other.subarray(0, (shape.context - 1) * D))).toEqual(Array.from(first.subarray(0, (shape.context - 1) * D)));
    releaseAttention(saved);
  });

  gpuTest('finite differences of Σ R⊙attention(qkv) agree with the backward (Q, K and V)', async ({ device }) => {
    const qkv = randn(rows * 3 * D, 3);
    const r = randn(rows * D, 4);
    const loss = async () => {
      const { out, saved } = await attention(upload(device, qkv, [rows, 3 * D], 'qkv'), shape);
      releaseAttention(saved);
      return probe(await read(out), r);
    };
    const { saved } = await attention(upload(device, qkv, [rows, 3 * D], 'qkv'), shape);
    const grad = await read(await attentionBackward(saved, upload(device, r, [rows, D], 'r')));
    // Entries from the Q, K and V thirds of several tokens.
    const indices = sampleIndices(qkv.length, 24, 5);
    const check = await finiteDifferenceCheck({ x: qkv, grad, loss, indices, eps: 1e-2, atol: 1e-3, rtol: 5e-3 });
    expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
  });
});
