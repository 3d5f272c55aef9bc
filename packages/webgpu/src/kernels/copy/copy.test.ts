import { describe, expect } from 'vitest';
import { CommandRecorder, readTensor, recordCopy, uploadTensor } from '../../index.js';
import { gpuDescribe, gpuTest, kernelSnapshots } from '../../testing.js';
import { copyKernel } from './copy.wgsl.js';

gpuDescribe('copy kernel', () => {
  describe.each([1, 3, 4, 5, 257, 1023, 4096 + 3, 300_001])('%i words', (n) => {
    gpuTest('copies every word, the tail included', async ({ device }) => {
      const data = Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 0);
      const src = uploadTensor(device, { shape: [n], dtype: 'u32', data }, 'src');
      const dst = uploadTensor(device, { shape: [n], dtype: 'u32', data: new Uint32Array(n) }, 'dst');
      const recorder = new CommandRecorder(device, 'copy-test');
      recordCopy(recorder, src, dst);
      await recorder.submit();
      expect(Array.from((await readTensor(dst)).data)).toEqual(Array.from(data));
      src.release();
      dst.release();
    });
  });

  gpuTest('refuses tensors of different sizes with E_SHAPE_MISMATCH', async ({ device }) => {
    const a = uploadTensor(device, { shape: [4], dtype: 'f32', data: new Float32Array(4) }, 'a');
    const b = uploadTensor(device, { shape: [5], dtype: 'f32', data: new Float32Array(5) }, 'b');
    expect(() => recordCopy(new CommandRecorder(device), a, b)).toThrowError(expect.objectContaining({ code: 'E_SHAPE_MISMATCH' }));
  });
});

kernelSnapshots(import.meta.dirname, copyKernel, [
  { workgroupSize: 256, vec4: true },
  { workgroupSize: 256, vec4: false },
]);
