import { CommandRecorder } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, upload } from '../../../test/helpers.js';
import { add, recordAddInPlace } from './add.js';
import { addKernel } from './add.wgsl.js';

gpuDescribe('residual add kernel', () => {
  gpuTest('y = a + b and y += a are exact in f32', async ({ device }) => {
    const n = 1027;
    const a = randn(n, 1);
    const b = randn(n, 2);
    const A = upload(device, a, [n], 'a');
    const got = await read(await add(A, upload(device, b, [n], 'b')));
    expect(Array.from(got)).toEqual(Array.from(a, (v, i) => Math.fround(v + b[i]!)));
    const Y = upload(device, b, [n], 'y');
    const recorder = new CommandRecorder(device);
    recordAddInPlace(recorder, A, Y);
    await recorder.submit();
    expect(Array.from(await read(Y))).toEqual(Array.from(got));
  });

  gpuTest('finite differences: the gradient reaches both branches unchanged', async ({ device }) => {
    const a = randn(16, 3);
    const b = randn(16, 4);
    const r = randn(16, 5);
    const loss = async () => probe(await read(await add(upload(device, a, [16], 'a'), upload(device, b, [16], 'b'))), r);
    for (const x of [a, b]) {
      const check = await finiteDifferenceCheck({ x, grad: r, loss, indices: [0, 5, 15], eps: 1e-2, atol: 1e-3, rtol: 1e-3 });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('refuses tensors of different sizes', async ({ device }) => {
    await expect(add(upload(device, new Float32Array(3), [3], 'a'), upload(device, new Float32Array(4), [4], 'b'))).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
    });
  });
});

kernelSnapshots(import.meta.dirname, addKernel, [
  { inPlace: false, workgroupSize: 256 },
  { inPlace: true, workgroupSize: 256 },
]);
