import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import { softmax, softmaxBackward, softmaxBackwardReference, softmaxReference } from './softmax.js';
import { softmaxKernel } from './softmax.wgsl.js';

gpuDescribe('softmax kernels (attention weights)', () => {
  for (const causal of [false, true]) {
    gpuTest(
      `${causal ? 'causal' : 'full'}: forward and backward match the reference; backward agrees with finite differences`,
      async ({ device }) => {
        const blocks = 3;
        const T = 9;
        const scale = 0.35;
        const s = randn(blocks * T * T, 1, 3);
        const dp = randn(blocks * T * T, 2);
        const S = upload(device, s, [blocks, T, T], 's');
        const P = await softmax(S, { scale, causal });
        const p = await read(P);
        const want = softmaxReference(s, T, { scale, causal });
        expect(worstRatio(p, want, (i) => 1e-6 + 1e-5 * want[i]!).ratio).toBeLessThanOrEqual(1);
        if (causal) expect(p[1]).toBe(0);
        const ds = await read(await softmaxBackward(P, upload(device, dp, [blocks, T, T], 'dp'), { scale, causal }));
        const wantDs = softmaxBackwardReference(want, dp, T, { scale });
        expect(worstRatio(ds, wantDs, (i) => 1e-6 + 1e-5 * Math.abs(wantDs[i]!)).ratio).toBeLessThanOrEqual(1);
        const loss = async () => probe(await read(await softmax(upload(device, s, [blocks, T, T], 's'), { scale, causal })), dp);
        const check = await finiteDifferenceCheck({
          x: s,
          grad: ds,
          loss,
          indices: sampleIndices(s.length, 16, 3),
          eps: 1e-2,
          atol: 1e-4,
          rtol: 5e-3,
        });
        expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
      },
    );
  }
});

kernelSnapshots(import.meta.dirname, softmaxKernel, [
  { backward: false, causal: true, workgroupSize: 64, subgroups: false },
  { backward: false, causal: false, workgroupSize: 64, subgroups: true },
  { backward: true, causal: true, workgroupSize: 64, subgroups: true },
  { backward: true, causal: false, workgroupSize: 64, subgroups: false },
]);
