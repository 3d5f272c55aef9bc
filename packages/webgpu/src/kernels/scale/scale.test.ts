import { expect } from 'vitest';
import { f16BitsToNumber, numbersToF16Bits, readTensor, scale, scaleReference, uploadTensor } from '../../index.js';
import { gpuDescribe, gpuTest, kernelSnapshots } from '../../testing.js';
import { scaleKernel } from './scale.wgsl.js';

gpuDescribe('scale kernel', () => {
  gpuTest('f32 matches the float64 reference to f32 rounding', async ({ device }) => {
    const n = 70_001;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
    const y = await scale(uploadTensor(device, { shape: [n], dtype: 'f32', data: x }, 'x'), -0.37);
    const got = (await readTensor(y)).data as Float32Array;
    const want = scaleReference(x, -0.37);
    for (let i = 0; i < n; i += 97) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -23 + 1e-30);
  });

  gpuTest('f16 storage with f32 math matches to f16 rounding (odd length)', async ({ device }) => {
    if (!device.features.has('shader-f16')) return;
    const n = 1001;
    const values = Array.from({ length: n }, (_, i) => (i - 500) / 7);
    const x = numbersToF16Bits(values);
    const y = await scale(uploadTensor(device, { shape: [n], dtype: 'f16', data: x }, 'x16'), 3);
    const got = Array.from((await readTensor(y)).data as Uint16Array, f16BitsToNumber);
    const want = scaleReference(Array.from(x, f16BitsToNumber), 3);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -10 + 1e-7);
  });

  gpuTest('rejects a non-finite alpha naming the field', async ({ device }) => {
    const x = uploadTensor(device, { shape: [2], dtype: 'f32', data: new Float32Array(2) }, 'x');
    await expect(scale(x, Number.NaN)).rejects.toThrowError('alpha must be a finite number, got NaN');
  });
});

kernelSnapshots(import.meta.dirname, scaleKernel, [
  { dtype: 'f32', workgroupSize: 256 },
  { dtype: 'f16', workgroupSize: 256 },
]);
