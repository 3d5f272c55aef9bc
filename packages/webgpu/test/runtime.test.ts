import { DistilleryError, isDistilleryError } from '@distillery/core';
import { describe, expect, it } from 'vitest';
import {
  acquireDevice,
  adapterSlug,
  bufferPool,
  checkBindingSize,
  CommandRecorder,
  createTensor,
  dispatch,
  getPipeline,
  isCpuAdapter,
  isCpuDevice,
  linearGrid,
  pipelineCacheStats,
  readTensor,
  scale,
  sizeClass,
  uploadTensor,
  type KernelProgram,
} from '../src/index.js';
import { gpuDescribe, gpuTest } from '../src/testing.js';

const caught = async (fn: () => unknown): Promise<DistilleryError> => {
  try {
    await fn();
  } catch (error) {
    if (isDistilleryError(error)) return error;
    throw error;
  }
  throw new Error('expected a DistilleryError');
};

describe('runtime without a device', () => {
  it('E_NO_ADAPTER tells a Linux user what to install', async () => {
    const fakeGpu = { requestAdapter: async () => null } as unknown as GPU;
    const error = await caught(() => acquireDevice({ gpu: fakeGpu }));
    expect(error.code).toBe('E_NO_ADAPTER');
    expect(error.message).toContain('mesa-vulkan-drivers');
    expect(error.message).toContain('bookworm-backports');
  });

  it('size classes stay within 1/8 (or 256 bytes) of the request and never shrink', () => {
    for (const n of [1, 255, 256, 257, 1000, 4097, 1 << 20, (1 << 20) + 1, 123_456_789]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(Math.max(n + 256, n * 1.125));
    }
  });

  it('adapter slugs are file-name safe', () => {
    expect(adapterSlug({ vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 19.1.7, 256 bits)', description: '' })).toBe(
      'mesa-llvmpipe-llvm-19-1-7-256-bits',
    );
  });
});

const doubler: KernelProgram<{ wg: number }> = {
  name: 'test-doubler',
  cacheKey: (v) => `wg${v.wg}`,
  wgsl: (v) => `
struct P { n: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(${v.wg}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.n) { x[g.x] = 2.0 * x[g.x]; }
}`,
};

gpuDescribe('runtime on a device', () => {
  gpuTest('a second dispatch with a different size hits the pipeline cache', async ({ device }) => {
    const before = pipelineCacheStats(device);
    for (const n of [10, 1000]) {
      const x = uploadTensor(device, { shape: [n], dtype: 'f32', data: Float32Array.from({ length: n }, (_, i) => i) }, `x${n}`);
      await dispatch(device, {
        program: doubler,
        variant: { wg: 64 },
        uniforms: [{ u32: n }],
        bindings: [x],
        workgroups: [Math.ceil(n / 64)],
      });
      expect(Array.from((await readTensor(x)).data).slice(0, 4)).toEqual([0, 2, 4, 6]);
    }
    const after = pipelineCacheStats(device);
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(1);
  });

  gpuTest('a WGSL compile error is E_SHADER_COMPILE with the line', async ({ device }) => {
    const broken: KernelProgram<null> = {
      name: 'test-broken',
      cacheKey: () => 'x',
      wgsl: () => '@compute @workgroup_size(1)\nfn main() {\n  let a: f32 = 1u;\n}\n',
    };
    const error = await caught(() => getPipeline(device, broken, null));
    expect(error.code).toBe('E_SHADER_COMPILE');
    expect(error.details.line).toBe(3);
    expect(error.message).toContain('let a: f32 = 1u;');
  });

  gpuTest('readback round-trips odd sizes of every dtype', async ({ device }) => {
    for (const n of [1, 2, 3, 5, 7, 1023, 65_537]) {
      const f = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3);
      const i32 = Int32Array.from({ length: n }, (_, i) => -i);
      const h = Uint16Array.from({ length: n }, (_, i) => (i * 31) & 0xffff);
      expect(Array.from((await readTensor(uploadTensor(device, { shape: [n], dtype: 'f32', data: f }, 'f'))).data)).toEqual(Array.from(f));
      expect(Array.from((await readTensor(uploadTensor(device, { shape: [n], dtype: 'i32', data: i32 }, 'i'))).data)).toEqual(
        Array.from(i32),
      );
      expect(Array.from((await readTensor(uploadTensor(device, { shape: [n], dtype: 'f16', data: h }, 'h'))).data)).toEqual(Array.from(h));
    }
  });

  gpuTest('uploads check the data length against the shape', async ({ device }) => {
    const error = await caught(() => uploadTensor(device, { shape: [2, 3], dtype: 'f32', data: new Float32Array(5) }, 'logits'));
    expect(error.code).toBe('E_SHAPE_MISMATCH');
    expect(error.message).toContain('logits.data');
  });

  gpuTest('the pool reuses released buffers and tracks peak bytes', async ({ device }) => {
    const pool = bufferPool(device);
    const a = createTensor(device, { shape: [12_345], dtype: 'f32', label: 'pool-a' });
    const buffer = a.buffer;
    a.release();
    const reuses = pool.stats().reuses;
    const b = createTensor(device, { shape: [12_300], dtype: 'f32', label: 'pool-b' });
    expect(b.buffer).toBe(buffer);
    expect(pool.stats().reuses).toBe(reuses + 1);
    expect(pool.stats().peakBytesInUse).toBeGreaterThanOrEqual(sizeClass(12_345 * 4));
    b.release();
  });

  gpuTest('GPU timing returns a positive duration', async ({ device }) => {
    const n = 1 << 20;
    const x = createTensor(device, { shape: [n], dtype: 'f32', label: 'timed' });
    const { ms, source } = await new CommandRecorder(device, 'timed')
      .dispatch({ program: doubler, variant: { wg: 64 }, uniforms: [{ u32: n }], bindings: [x], workgroups: linearGrid(device, n / 64) })
      .submitTimed();
    expect(ms).toBeGreaterThan(0);
    expect(source).toBe(device.features.has('timestamp-query') ? 'timestamp' : 'wall-clock');
  });

  gpuTest('limits are named: grid overflow and storage-binding size', async ({ device }) => {
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    expect(linearGrid(device, limit + 1)).toEqual([Math.ceil((limit + 1) / 2), 2]);
    const error = await caught(() => checkBindingSize(device, 'studentLogits', device.limits.maxStorageBufferBindingSize + 4));
    expect(error.code).toBe('E_LIMIT_EXCEEDED');
    expect(error.message).toContain('maxStorageBufferBindingSize');
    expect(error.message).toContain('studentLogits');
  });
});

gpuDescribe('device loss', () => {
  it('surfaces as E_DEVICE_LOST, without hanging', async () => {
    const { device } = await acquireDevice({ label: 'doomed' });
    const x = uploadTensor(device, { shape: [4], dtype: 'f32', data: new Float32Array(4) }, 'x');
    device.destroy();
    await device.lost;
    await new Promise((r) => setTimeout(r, 0));
    expect((await caught(() => createTensor(device, { shape: [4], dtype: 'f32', label: 'after' }))).code).toBe('E_DEVICE_LOST');
    expect((await caught(() => readTensor(x))).code).toBe('E_DEVICE_LOST');
    expect((await caught(() => scale(x, 2))).code).toBe('E_DEVICE_LOST');
  });
});

describe('isCpuAdapter: the one test of a CPU implementation of WebGPU', () => {
  it('knows lavapipe, SwiftShader and WARP by name, a fallback adapter by its flag, and not a GPU', () => {
    expect(isCpuAdapter({ vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '' })).toBe(true);
    expect(isCpuAdapter({ vendor: 'google', architecture: 'swiftshader', device: 'subzero', description: 'SwiftShader Device' })).toBe(
      true,
    );
    expect(isCpuAdapter({ vendor: 'microsoft', device: 'Microsoft Basic Render Driver (WARP)' })).toBe(true);
    expect(isCpuAdapter({ vendor: 'acme', isFallbackAdapter: true })).toBe(true);
    expect(isCpuAdapter({ vendor: 'acme', isFallback: true })).toBe(true);
    expect(isCpuAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA H100' })).toBe(
      false,
    );
    expect(isCpuAdapter(undefined)).toBe(false);
  });

  gpuTest('agrees with the summary acquireDevice gives of the same adapter', async ({ device }) => {
    const acquired = await acquireDevice({ label: 'is-cpu' });
    try {
      expect(isCpuDevice(device)).toBe(acquired.info.isFallback);
    } finally {
      acquired.device.destroy();
    }
  });
});

describe('f16 host conversion', () => {
  it('round-trips exactly representable values and rounds to nearest even', async () => {
    const { f16BitsToNumber, numberToF16Bits } = await import('../src/index.js');
    for (const v of [0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, Infinity, -Infinity])
      expect(f16BitsToNumber(numberToF16Bits(v))).toBe(v);
    expect(f16BitsToNumber(numberToF16Bits(1 + 2 ** -11))).toBe(1); // tie → even
    expect(f16BitsToNumber(numberToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(f16BitsToNumber(numberToF16Bits(70000))).toBe(Infinity);
    expect(Number.isNaN(f16BitsToNumber(numberToF16Bits(Number.NaN)))).toBe(true);
  });
});
