import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { randn, read, upload, worstRatio } from '../../../test/helpers.js';
import { jitter, jitterReference } from './jitter.js';
import { jitterKernel } from './jitter.wgsl.js';

gpuDescribe('jitter kernel', () => {
  gpuTest('adds N(0, std²) noise that matches the float64 reference and its moments', async ({ device }) => {
    const n = 20_001;
    const x = randn(n, 1);
    const spec = { std: 0.5, seed: 77, step: 4 };
    const got = await read(await jitter(upload(device, x, [n], 'x'), spec));
    const want = jitterReference(x, spec);
    // Box–Muller in f32 (log, cos) vs float64: within a few 1e-6 of the noise scale.
    expect(worstRatio(got, want, (i) => 2e-5 * (1 + Math.abs(want[i]!))).ratio).toBeLessThanOrEqual(1);
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const d = got[i]! - x[i]!;
      mean += d / n;
      sq += (d * d) / n;
    }
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.sqrt(sq - mean * mean)).toBeCloseTo(0.5, 1);
  });

  gpuTest('std 0 is the identity', async ({ device }) => {
    const x = randn(100, 2);
    expect(Array.from(await read(await jitter(upload(device, x, [100], 'x'), { std: 0, seed: 1, step: 1 })))).toEqual(Array.from(x));
  });
});

kernelSnapshots(import.meta.dirname, jitterKernel, [{ workgroupSize: 256 }]);
