import { expect } from 'vitest';
import { gpuErrorChecks, setGpuErrorChecks } from '../src/gpu-errors.js';
import { copyProgram } from '../src/kernels/copy/copy.js';
import { scaleProgram } from '../src/kernels/scale/scale.js';
import { CommandRecorder } from '../src/recorder.js';
import { createTensor } from '../src/tensor.js';
import { gpuDescribe, gpuTest } from '../src/testing.js';

gpuDescribe('GPU errors become typed errors', () => {
  gpuTest('tests run every submit inside error scopes', () => {
    expect(gpuErrorChecks()).toBe('always');
  });

  gpuTest('a raw dispatch with a wrong binding list throws E_GPU_VALIDATION naming kernel and label', async ({ device }) => {
    const x = createTensor(device, { shape: [16], dtype: 'f32', label: 'x' });
    // scale binds uniforms + x + y: one storage buffer is missing, which only the device notices.
    const recorder = new CommandRecorder(device, 'wrong-bindings').dispatch({
      program: scaleProgram,
      variant: { dtype: 'f32', workgroupSize: 64 },
      uniforms: [{ u32: 16 }, { f32: 2 }],
      bindings: [x],
      workgroups: [1],
      label: 'scale with one binding',
    });
    await expect(recorder.submit()).rejects.toMatchObject({
      code: 'E_GPU_VALIDATION',
      details: { kernel: 'scale', label: 'scale with one binding' },
    });
  });

  gpuTest('first-use mode checks a pipeline once, then lets its submits through unchecked', async ({ device }) => {
    const x = createTensor(device, { shape: [64], dtype: 'f32', label: 'x' });
    const y = createTensor(device, { shape: [64], dtype: 'f32', label: 'y' });
    const good = () =>
      new CommandRecorder(device, 'copy').dispatch({
        program: copyProgram,
        variant: { workgroupSize: 64, vec4: false },
        uniforms: [{ u32: 64 }, { u32: 0 }],
        bindings: [x, y],
        workgroups: [1],
        label: 'copy',
      });
    setGpuErrorChecks('first-use');
    try {
      await good().submit();
      // Unchecked now: the scope the test fixture holds sees the error instead of the recorder.
      device.pushErrorScope('validation');
      await new CommandRecorder(device, 'copy-bad')
        .dispatch({
          program: copyProgram,
          variant: { workgroupSize: 64, vec4: false },
          uniforms: [{ u32: 64 }, { u32: 0 }],
          bindings: [x],
          workgroups: [1],
        })
        .submit();
      expect(await device.popErrorScope()).not.toBeNull();
    } finally {
      setGpuErrorChecks('always');
    }
    expect(() => setGpuErrorChecks('sometimes' as never)).toThrowError(/always, first-use or off/);
  });
});
