import { describe, expect } from 'vitest';
import { CommandRecorder } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { caught, expectClose, makeLogits, readNumbers, roundF16, upload } from '../../../test/helpers.js';
import { recordTemperedSoftmax, temperedSoftmax } from '../../index.js';
import { softmaxReference } from '../../reference.js';

/**
 * Tolerances. f32 output: probabilities |Δ| ≤ 2e-6 + 2e-5·p; log-probabilities |Δ| ≤ 4e-6·(1 + |log p|)
 * (the kernel computes (z − max)/T − ln Σ, each step to f32 rounding). f16 output: the same plus
 * f16 rounding of the result (2^-11 relative).
 */
async function check(
  device: GPUDevice,
  rows: number,
  vocab: number,
  temperature: number,
  data: Float32Array,
  dtype: 'f32' | 'f16' = 'f32',
  step = 1,
) {
  const input = upload(device, data, [rows, vocab], 'logits', dtype);
  for (const log of [false, true]) {
    const out = await temperedSoftmax(input, { temperature, log });
    expect(out.shape).toEqual([rows, vocab]);
    expect(out.dtype).toBe(dtype);
    const got = await readNumbers(out);
    const want = softmaxReference(data, rows, vocab, { temperature, log });
    const f16 = dtype === 'f16';
    if (log) expectClose(got, want, { rtol: f16 ? 1e-3 : 4e-6, atol: f16 ? 1e-3 : 4e-6, step, what: 'log_softmax' });
    else expectClose(got, want, { rtol: f16 ? 1e-3 : 2e-5, atol: f16 ? 1e-4 : 2e-6, step, what: 'softmax' });
    out.release();
  }
  input.release();
}

gpuDescribe('temperedSoftmax vs the float64 reference', () => {
  describe('shapes: rows 1 … 1024, vocab 1 … 262,147 (not multiples of 4 or of the workgroup)', () => {
    const shapes: Array<[number, number, number]> = [
      [1, 1, 1],
      [3, 3, 0.5],
      [64, 7, 2],
      [1024, 1000, 4],
      [1024, 7, 20],
      [3, 32_000, 1],
      [1, 128_256, 2],
      [1, 151_936, 0.5],
      [1, 262_144, 4],
      [2, 262_147, 1],
    ];
    for (const [rows, vocab, temperature] of shapes) {
      gpuTest(`${rows} × ${vocab}, T=${temperature}, with −inf entries and an all −inf row`, async ({ device }) => {
        const data = makeLogits(rows * 31 + vocab, rows, vocab, { maskFraction: vocab > 3 ? 0.05 : 0, emptyRows: rows > 2 ? [1] : [] });
        await check(device, rows, vocab, temperature, data, 'f32', vocab > 50_000 ? 3 : 1);
      });
    }
  });

  describe('temperatures T ∈ {0.5, 1, 2, 4, 20} with logits up to 1e4', () => {
    for (const temperature of [0.5, 1, 2, 4, 20]) {
      gpuTest(`T=${temperature}`, async ({ device }) => {
        await check(device, 64, 1000, temperature, makeLogits(temperature * 10, 64, 1000, { scale: 3000 }));
        await check(device, 3, 1001, temperature, makeLogits(temperature * 10 + 1, 3, 1001, { scale: 10, offset: -1e4 }));
      });
    }
  });

  gpuTest('an all −inf row gives probabilities 0 and log-probabilities −inf, never NaN', async ({ device }) => {
    const data = new Float32Array(8).fill(-Infinity);
    const input = upload(device, data, [2, 4], 'masked');
    expect(Array.from(await readNumbers(await temperedSoftmax(input)))).toEqual(new Array(8).fill(0));
    expect(Array.from(await readNumbers(await temperedSoftmax(input, { log: true })))).toEqual(new Array(8).fill(-Infinity));
  });

  gpuTest('f16 input and output (f32 accumulation)', async ({ device }) => {
    if (!device.features.has('shader-f16')) return;
    await check(device, 64, 1000, 2, roundF16(makeLogits(3, 64, 1000, { maskFraction: 0.05 })), 'f16');
    await check(device, 3, 32_001, 0.5, roundF16(makeLogits(4, 3, 32_001, { emptyRows: [2] })), 'f16');
  });

  gpuTest('f16 conversions are exact: subnormals, ±65504, ±0, −inf; NaN is flagged', async ({ device }) => {
    if (!device.features.has('shader-f16')) return;
    const values = [2 ** -24, 3 * 2 ** -20, 6.1e-5, 65504, -65504, 0, -0, -Infinity, 1.5, -2.75, 1000, 0.333];
    const data = roundF16(Float32Array.from(values));
    const input = upload(device, data, [3, 4], 'x', 'f16');
    const out = await temperedSoftmax(input, { log: true, outDtype: 'f32' });
    expectClose(await readNumbers(out), softmaxReference(data, 3, 4, { log: true }), { rtol: 1e-7, atol: 1e-7 });
    const probs = await temperedSoftmax(input);
    expectClose(await readNumbers(probs), softmaxReference(data, 3, 4), { rtol: 2e-3, atol: 1e-7, what: 'f16 softmax' });
    const bad = Float32Array.from(data);
    bad[9] = Number.NaN;
    const error = await caught(() => temperedSoftmax(upload(device, bad, [3, 4], 'x', 'f16')));
    expect(error.details).toMatchObject({ row: 2 });
  });

  gpuTest('any rank: softmax over the last dimension', async ({ device }) => {
    const data = makeLogits(5, 6, 10);
    const out = await temperedSoftmax(upload(device, data, [2, 3, 10], 'x'), { temperature: 3 });
    expect(out.shape).toEqual([2, 3, 10]);
    expectClose(await readNumbers(out), softmaxReference(data, 6, 10, { temperature: 3 }), { rtol: 2e-5, atol: 2e-6 });
  });

  gpuTest('a batch above maxStorageBufferBindingSize is bound as windows of rows', async ({ device }) => {
    const vocab = 128_256;
    const rows = Math.floor(device.limits.maxStorageBufferBindingSize / (4 * vocab)) + 5;
    if (rows * vocab * 4 > 600 * 2 ** 20) return; // a device with a huge binding limit: nothing to split here
    const data = makeLogits(6, rows, vocab, { scale: 2 });
    const input = upload(device, data, [rows, vocab], 'big');
    const out = await temperedSoftmax(input, { temperature: 2, log: true });
    const got = await readNumbers(out);
    for (const r of [0, rows >> 1, rows - 1]) {
      const slice = data.subarray(r * vocab, (r + 1) * vocab);
      expectClose(got.subarray(r * vocab, (r + 1) * vocab), softmaxReference(slice, 1, vocab, { temperature: 2, log: true }), {
        rtol: 4e-6,
        atol: 4e-6,
        step: 5,
        what: `row ${r}`,
      });
    }
    out.release();
    input.release();
  });

  describe('bad input', () => {
    gpuTest('NaN or +Inf is reported as E_NON_FINITE naming the tensor and the row', async ({ device }) => {
      const data = makeLogits(7, 4, 9);
      data[2 * 9 + 3] = Number.NaN;
      data[3 * 9] = Infinity;
      const error = await caught(() => temperedSoftmax(upload(device, data, [4, 9], 'x'), { name: 'logits' }));
      expect(error.code).toBe('E_NON_FINITE');
      expect(error.message).toContain('logits row 2');
      expect(error.details).toMatchObject({ field: 'logits', row: 2 });
    });
    gpuTest('lazy check: the recorder runs, check() throws', async ({ device }) => {
      const data = new Float32Array([1, Number.NaN, 3, 4]);
      const recorder = new CommandRecorder(device);
      const { check } = recordTemperedSoftmax(recorder, upload(device, data, [1, 4], 'x'));
      await recorder.submit();
      expect((await caught(check)).code).toBe('E_NON_FINITE');
    });
    gpuTest('T ≤ 0 and non-float inputs are E_BAD_VALUE naming the field', async ({ device }) => {
      const x = upload(device, new Float32Array(4), [1, 4], 'x');
      for (const temperature of [0, -1, Number.NaN, Infinity]) {
        const error = await caught(() => temperedSoftmax(x, { temperature }));
        expect(error.code).toBe('E_BAD_VALUE');
        expect(error.details.field).toBe('temperature');
      }
      const ints = upload(device, new Int32Array(4), [4], 'ints');
      expect((await caught(() => temperedSoftmax(ints))).message).toContain('input.dtype');
    });
  });
});
