import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, upload, uploadI32, worstRatio } from '../../../test/helpers.js';
import { embedding, embeddingBackward, embeddingBackwardReference, embeddingReference } from './embedding.js';
import { embeddingKernel } from './embedding.wgsl.js';

gpuDescribe('embedding kernels', () => {
  gpuTest('gather (with positions) and scatter-add match the float64 reference, repeated ids included', async ({ device }) => {
    const vocab = 11;
    const dim = 70;
    const context = 4;
    const ids = [3, 3, 0, 10, 7, 3, 10, 1, 1, 3, 5, 2];
    const table = randn(vocab * dim, 1);
    const positions = randn(context * dim, 2);
    const dOut = randn(ids.length * dim, 3);
    const I = uploadI32(device, ids, 'ids');
    const out = await read(
      await embedding(I, upload(device, table, [vocab, dim], 'table'), upload(device, positions, [context, dim], 'pos')),
    );
    expect(worstRatio(out, embeddingReference(ids, table, dim, positions, context), () => 1e-6).ratio).toBeLessThanOrEqual(1);
    const grads = await embeddingBackward(I, upload(device, dOut, [ids.length, dim], 'dout'), vocab, context);
    const want = embeddingBackwardReference(ids, dOut, vocab, dim, context);
    expect(worstRatio(await read(grads.table), want.table, () => 1e-5).ratio).toBeLessThanOrEqual(1);
    expect(worstRatio(await read(grads.positions!), want.positions, () => 1e-5).ratio).toBeLessThanOrEqual(1);
    // Rows of tokens that never occur get exactly zero.
    expect(Array.from((await read(grads.table)).subarray(4 * dim, 5 * dim)).every((v) => v === 0)).toBe(true);
  });

  gpuTest('finite differences of Σ R⊙(table[ids] + positions) agree with the scatter-add gradients', async ({ device }) => {
    const vocab = 5;
    const dim = 4;
    const ids = [1, 4, 1, 0, 1, 2];
    const table = randn(vocab * dim, 4);
    const positions = randn(3 * dim, 5);
    const r = randn(ids.length * dim, 6);
    const I = uploadI32(device, ids, 'ids');
    const loss = async () =>
      probe(await read(await embedding(I, upload(device, table, [vocab, dim], 't'), upload(device, positions, [3, dim], 'p'))), r);
    const grads = await embeddingBackward(I, upload(device, r, [ids.length, dim], 'r'), vocab, 3);
    for (const [values, grad] of [
      [table, await read(grads.table)],
      [positions, await read(grads.positions!)],
    ] as const) {
      const check = await finiteDifferenceCheck({
        x: values,
        grad,
        loss,
        indices: Array.from(values, (_, i) => i),
        eps: 1e-2,
        atol: 1e-3,
        rtol: 1e-3,
      });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    }
  });
});

kernelSnapshots(import.meta.dirname, embeddingKernel, [
  { pass: 'gather', positional: true, accumulate: false, workgroupSize: 64 },
  { pass: 'gather', positional: false, accumulate: false, workgroupSize: 64 },
  { pass: 'scatter', positional: false, accumulate: true, workgroupSize: 64 },
  { pass: 'position-grad', positional: true, accumulate: false, workgroupSize: 64 },
]);
