import { expect } from 'vitest';
import { Rng } from '@distillery/core';
import { readFloat32, uploadTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { mixtureLogits, mixtureLogitsReference } from '../src/index.js';
import { mixtureKernel } from '../src/kernels/mixture/mixture.wgsl.js';

gpuDescribe('ensemble mixture kernel', () => {
  gpuTest('matches the float64 reference, masked entries and fully masked members included', async ({ device }) => {
    const rows = 37;
    const vocab = 301;
    const rng = new Rng(9);
    const teachers = [0, 1, 2].map(() => Float32Array.from({ length: rows * vocab }, () => rng.normal() * 5));
    teachers[1]![3] = -Infinity;
    teachers[2]!.fill(-Infinity, 0, vocab); // teacher 2 masks all of row 0: it contributes nothing there
    const weights = [1, 2, 0.5];
    for (const T of [1, 4]) {
      const got = await readFloat32(
        await mixtureLogits(
          teachers.map((t, i) => uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: t }, `t${i}`)),
          weights,
          T,
        ),
      );
      const want = mixtureLogitsReference(teachers, weights, rows, vocab, T);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
      expect(worst).toBeLessThan(2e-5);
      // softmax(out / T) is the mixture: probabilities of row 5 sum to 1.
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(got[5 * vocab + v]! / T);
      expect(sum).toBeCloseTo(1, 4);
    }
  });

  gpuTest('rejects bad weights and mismatched teachers by name', async ({ device }) => {
    const a = uploadTensor(device, { shape: [2, 3], dtype: 'f32', data: new Float32Array(6) }, 'a');
    const b = uploadTensor(device, { shape: [2, 4], dtype: 'f32', data: new Float32Array(8) }, 'b');
    await expect(mixtureLogits([a, a], [1, -1], 1)).rejects.toThrowError('weights[1] must be a finite number >= 0, got -1');
    await expect(mixtureLogits([a, b], [1, 1], 1)).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
    await expect(mixtureLogits([a], [1], 0)).rejects.toThrowError('temperature must be a finite number > 0, got 0');
  });
});

kernelSnapshots(`${import.meta.dirname}/../src/kernels/mixture`, mixtureKernel, [
  { workgroupSize: 64, subgroups: false },
  { workgroupSize: 64, subgroups: true },
]);
