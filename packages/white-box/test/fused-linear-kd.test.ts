import { expect } from 'vitest';
import { Rng, type TeacherTargets } from '@distillery/core';
import { kdLoss } from '@distillery/kernels';
import { matmul } from '@distillery/nn';
import { bufferPool, createTensor, readFloat32, uploadTensor, zerosTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { chooseChunkRows, fusedLinearKdLoss, topKFromLogits, unfusedLinearKdLoss } from '../src/index.js';

const ROWS = 200;
const WIDTH = 32;
const VOCAB = 300;

function setup(device: GPUDevice, seed: number) {
  const rng = new Rng(seed);
  const f = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const teacherLogits = f(ROWS * VOCAB, 3);
  const labels = Int32Array.from({ length: ROWS }, (_, i) => (i % 17 === 5 ? -100 : rng.int(VOCAB)));
  return {
    hidden: uploadTensor(device, { shape: [ROWS, WIDTH], dtype: 'f32', data: f(ROWS * WIDTH, 1) }, 'hidden'),
    weight: uploadTensor(device, { shape: [VOCAB, WIDTH], dtype: 'f32', data: f(VOCAB * WIDTH, 0.3) }, 'weight'),
    bias: uploadTensor(device, { shape: [VOCAB], dtype: 'f32', data: f(VOCAB, 0.1) }, 'bias'),
    labels: uploadTensor(device, { shape: [ROWS], dtype: 'i32', data: labels }, 'labels'),
    teacherLogits,
  };
}

function grads(device: GPUDevice) {
  return {
    gradHidden: zerosTensor(device, { shape: [ROWS, WIDTH], dtype: 'f32', label: 'dh' }),
    gradWeight: zerosTensor(device, { shape: [VOCAB, WIDTH], dtype: 'f32', label: 'dw' }),
    gradBias: zerosTensor(device, { shape: [VOCAB], dtype: 'f32', label: 'db' }),
  };
}

async function close(a: GpuTensor, b: GpuTensor, tolerance: number) {
  const x = await readFloat32(a);
  const y = await readFloat32(b);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  expect(worst).toBeLessThanOrEqual(tolerance * Math.max(scale, 1e-6));
}

function teacherOf(device: GPUDevice, kind: 'dense' | 'topk', logits: Float32Array): TeacherTargets<GpuTensor> {
  if (kind === 'dense')
    return { kind: 'dense', logits: uploadTensor(device, { shape: [ROWS, VOCAB], dtype: 'f32', data: logits }, 'teacher') };
  const top = topKFromLogits(logits, ROWS, VOCAB, 8);
  return {
    kind: 'topk',
    k: 8,
    indices: uploadTensor(device, { shape: [ROWS, 8], dtype: 'i32', data: top.indices }, 'ti'),
    logprobs: uploadTensor(device, { shape: [ROWS, 8], dtype: 'f32', data: top.logprobs }, 'tl'),
    tailMass: uploadTensor(device, { shape: [ROWS], dtype: 'f32', data: top.tailMass }, 'tt'),
  };
}

gpuDescribe('fused linear + KD loss', () => {
  // 23 rows: no tensor's chunk offsets align after the first chunk (hidden and gradHidden rows are
  // 128 bytes, labels and per-row terms 4); 24 rows: hidden and gradHidden align, the rest do not.
  for (const [kind, chunkRows] of [
    ['dense', 23],
    ['topk', 24],
  ] as const) {
    gpuTest(
      `${kind} teacher, ${chunkRows}-row chunks off the binding alignment: copied rows, the in-place gradient still equals the unfused path`,
      async ({ device }) => {
        const s = setup(device, 5);
        const teacher = teacherOf(device, kind, s.teacherLogits);
        const kd = { temperature: 2, softWeight: 1, hardWeight: 0.3, tail: 'bucket' as const };
        const fused = grads(device);
        const plain = grads(device);
        const total = createTensor(device, { shape: [ROWS], dtype: 'f32', label: 'per-row-total' });
        const a = await fusedLinearKdLoss({ ...s, teacher, kd, ...fused, chunkRows, perRow: { total } });
        const b = await unfusedLinearKdLoss({ ...s, teacher, kd, ...plain });
        // The fallback is taken exactly for the row ranges whose byte offset does not align.
        const align = device.limits.minStorageBufferOffsetAlignment;
        const rowBytes = [WIDTH * 4, ...(kind === 'dense' ? [VOCAB * 4] : [32, 32, 4]), 4, WIDTH * 4, 4];
        let expected = 0;
        for (let first = 0; first < ROWS; first += chunkRows) expected += rowBytes.filter((bytes) => (first * bytes) % align !== 0).length;
        expect(expected).toBeGreaterThan(0);
        expect(a.copies).toBe(expected);
        expect(a.chunks).toBe(Math.ceil(ROWS / chunkRows));
        expect(a.total).toBeCloseTo(b.total, 4);
        await close(fused.gradHidden, plain.gradHidden, 1e-5);
        await close(fused.gradWeight, plain.gradWeight, 1e-5);
        await close(fused.gradBias, plain.gradBias, 1e-5);
        // Per-row terms land in their rows of the caller's tensor, windowed or copied.
        const logits = await matmul(s.hidden, s.weight, { transB: true, bias: s.bias });
        const whole = await kdLoss({ ...kd, studentLogits: logits, teacher, labels: s.labels });
        await close(total, whole.perRow.total, 1e-5);
        whole.release();
        logits.release();
      },
    );
  }

  for (const kind of ['dense', 'topk'] as const) {
    gpuTest(`${kind} teacher: chunked results equal the unfused path (ragged last chunk, ignored rows)`, async ({ device }) => {
      const s = setup(device, kind === 'dense' ? 1 : 2);
      let teacher: TeacherTargets<GpuTensor>;
      if (kind === 'dense')
        teacher = { kind: 'dense', logits: uploadTensor(device, { shape: [ROWS, VOCAB], dtype: 'f32', data: s.teacherLogits }, 'teacher') };
      else {
        const top = topKFromLogits(s.teacherLogits, ROWS, VOCAB, 8);
        teacher = {
          kind: 'topk',
          k: 8,
          indices: uploadTensor(device, { shape: [ROWS, 8], dtype: 'i32', data: top.indices }, 'ti'),
          logprobs: uploadTensor(device, { shape: [ROWS, 8], dtype: 'f32', data: top.logprobs }, 'tl'),
          tailMass: uploadTensor(device, { shape: [ROWS], dtype: 'f32', data: top.tailMass }, 'tt'),
        };
      }
      const kd = { temperature: 2, softWeight: 1, hardWeight: 0.3, tail: 'bucket' as const };
      const fused = grads(device);
      const plain = grads(device);
      const a = await fusedLinearKdLoss({ ...s, teacher, kd, ...fused, chunkRows: 64 });
      const b = await unfusedLinearKdLoss({ ...s, teacher, kd, ...plain });
      expect(a.chunks).toBe(4);
      expect(a.rows).toBe(b.rows);
      expect(a.rows).toBe(ROWS - Math.ceil((ROWS - 5) / 17));
      expect(a.total).toBeCloseTo(b.total, 4);
      await close(fused.gradHidden, plain.gradHidden, 1e-5);
      await close(fused.gradWeight, plain.gradWeight, 1e-5);
      await close(fused.gradBias, plain.gradBias, 1e-5);
    });
  }

  gpuTest('peak GPU memory stays at a chunk, not the whole batch', async ({ device }) => {
    const s = setup(device, 3);
    const teacher = {
      kind: 'dense' as const,
      logits: uploadTensor(device, { shape: [ROWS, VOCAB], dtype: 'f32', data: s.teacherLogits }, 'teacher'),
    };
    const kd = { temperature: 1, softWeight: 1, hardWeight: 0 };
    const pool = bufferPool(device);
    const measure = async (run: () => Promise<unknown>) => {
      pool.resetPeak();
      const base = pool.stats().bytesInUse;
      await run();
      return pool.stats().peakBytesInUse - base;
    };
    const fusedPeak = await measure(() => fusedLinearKdLoss({ ...s, teacher, kd, ...grads(device), chunkRows: 64 }));
    const unfusedPeak = await measure(() => unfusedLinearKdLoss({ ...s, teacher, kd, ...grads(device) }));
    expect(fusedPeak).toBeLessThan(unfusedPeak * 0.75);
  });

  gpuTest('no chunk waits for a readback: every summary is mapped after the last chunk is submitted', async ({ device }) => {
    const s = setup(device, 4);
    const teacher = {
      kind: 'dense' as const,
      logits: uploadTensor(device, { shape: [ROWS, VOCAB], dtype: 'f32', data: s.teacherLogits }, 'teacher'),
    };
    const events: string[] = [];
    const target = device as { createCommandEncoder: GPUDevice['createCommandEncoder'] };
    const encode = device.createCommandEncoder;
    target.createCommandEncoder = function (this: GPUDevice, descriptor?: GPUCommandEncoderDescriptor) {
      events.push(`encode ${descriptor?.label ?? ''}`);
      return encode.call(this, descriptor);
    };
    const map = GPUBuffer.prototype.mapAsync;
    GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
      events.push('map');
      return map.apply(this, args);
    };
    try {
      const result = await fusedLinearKdLoss({
        ...s,
        teacher,
        kd: { temperature: 2, softWeight: 1, hardWeight: 0.3 },
        ...grads(device),
        chunkRows: 64,
        normalizer: ROWS,
      });
      expect(result.chunks).toBe(4);
      // 64-row chunks start on aligned offsets: every row range is a window, nothing is copied.
      expect(result.copies).toBe(0);
      expect(Number.isFinite(result.total)).toBe(true);
    } finally {
      delete (target as Partial<typeof target>).createCommandEncoder;
      if (device.createCommandEncoder !== encode) target.createCommandEncoder = encode;
      GPUBuffer.prototype.mapAsync = map;
    }
    const lastChunk = events.lastIndexOf('encode fused-linear-kd');
    expect(events.filter((e) => e === 'encode fused-linear-kd')).toHaveLength(4);
    expect(events.filter((e) => e.startsWith('encode fused-linear-kd:'))).toEqual([]);
    expect(events.slice(0, lastChunk).filter((e) => e === 'map')).toEqual([]);
    expect(events.slice(lastChunk).filter((e) => e === 'map').length).toBeGreaterThanOrEqual(4);
  });

  gpuTest('chunks are whole matmul tiles sized to the byte budget', async ({ device }) => {
    expect(chooseChunkRows(device, 4096, 32_000)).toBe(128);
    expect(chooseChunkRows(device, 100, 32_000)).toBe(100);
    expect(chooseChunkRows(device, 4096, 1_000_000)).toBe(64);
  });
});
