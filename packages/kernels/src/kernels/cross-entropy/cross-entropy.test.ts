import { describe, expect, it } from 'vitest';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import {
  caught,
  expectClose,
  expectScalarClose,
  finiteDiff,
  makeLabels,
  makeLogits,
  makeRowWeights,
  maxAbs,
  readNumbers,
  roundF16,
  upload,
} from '../../../test/helpers.js';
import { crossEntropy } from '../../index.js';
import { crossEntropyReference } from '../../reference.js';

describe('crossEntropyReference', () => {
  it('matches −ln softmax(z)_y and its finite-difference gradient', () => {
    const z = makeLogits(1, 3, 5);
    const labels = Int32Array.from([4, -100, 0]);
    const ref = crossEntropyReference({ rows: 3, vocab: 5, logits: z, labels, weight: 2 });
    const lse = (r: number) => Math.log(Array.from(z.subarray(r * 5, r * 5 + 5), Math.exp).reduce((a, b) => a + b, 0));
    expectScalarClose(ref.total, (2 * (lse(0) - z[4]!) + 2 * (lse(2) - z[10]!)) / 2, 1e-12, 0, 'total');
    const numeric = finiteDiff((x) => crossEntropyReference({ rows: 3, vocab: 5, logits: x, labels, weight: 2 }).total, z);
    expectClose(numeric, ref.gradLogits, { atol: 1e-7 });
  });

  it('with row weights: each row scaled, N unchanged, and the finite-difference gradient agrees', () => {
    const z = makeLogits(1, 4, 5);
    const labels = Int32Array.from([4, -100, 0, 2]);
    const rowWeights = [3, 5, 0.5, 0];
    const ref = crossEntropyReference({ rows: 4, vocab: 5, logits: z, labels, weight: 2, rowWeights, normalizer: 6 });
    const lse = (r: number) => Math.log(Array.from(z.subarray(r * 5, r * 5 + 5), Math.exp).reduce((a, b) => a + b, 0));
    expect(ref.rows).toBe(3);
    expectScalarClose(ref.total, (2 * 3 * (lse(0) - z[4]!) + 2 * 0.5 * (lse(2) - z[10]!)) / 6, 1e-12, 0, 'total');
    const numeric = finiteDiff(
      (x) => crossEntropyReference({ rows: 4, vocab: 5, logits: x, labels, weight: 2, rowWeights, normalizer: 6 }).total,
      z,
    );
    expectClose(numeric, ref.gradLogits, { atol: 1e-7 });
  });
});

gpuDescribe('crossEntropy vs the float64 reference (f32: rtol 2e-5; f16 inputs: same, f16 gradient to 2^-10)', () => {
  const shapes: Array<[number, number]> = [
    [1, 1],
    [3, 7],
    [64, 1000],
    [1024, 1000],
    [3, 32_000],
    [1, 128_256],
    [2, 151_936],
  ];
  for (const [rows, vocab] of shapes) {
    gpuTest(`${rows} × ${vocab} with ignore-index rows and −inf entries`, async ({ device }) => {
      const z = makeLogits(rows + vocab, rows, vocab, { maskFraction: vocab > 7 ? 0.05 : 0, scale: 4 });
      const labels = makeLabels(2, rows, vocab, rows > 2 ? 3 : 0);
      for (let r = 0; r < rows; r++) if (labels[r]! >= 0) z[r * vocab + labels[r]!] = 1;
      const result = await crossEntropy({
        logits: upload(device, z, [rows, vocab], 'logits'),
        labels: upload(device, labels, [rows], 'labels'),
      });
      const want = crossEntropyReference({ rows, vocab, logits: z, labels });
      expectScalarClose(await result.total(), want.total, 2e-5, 1e-6, 'total');
      expect(await result.rows()).toBe(want.rows);
      expectClose(await readFloat32(result.perRow.hard), want.perRow.hard, { rtol: 2e-5, atol: 1e-6 });
      expectClose(await readFloat32(result.gradLogits), want.gradLogits, {
        atol: 2e-5 * maxAbs(want.gradLogits),
        step: vocab > 10_000 ? 7 : 1,
      });
      result.release();
    });
  }

  gpuTest('f16 logits, weight and normaliser; an all −inf row that does not count gives 0', async ({ device }) => {
    if (!device.features.has('shader-f16')) return;
    const z = roundF16(makeLogits(3, 16, 1001, { emptyRows: [4] }));
    const labels = makeLabels(4, 16, 1001);
    labels[4] = -100;
    const result = await crossEntropy({
      logits: upload(device, z, [16, 1001], 'logits', 'f16'),
      labels: upload(device, labels, [16], 'labels'),
      weight: 0.5,
      normalizer: 40,
    });
    const want = crossEntropyReference({ rows: 16, vocab: 1001, logits: z, labels, weight: 0.5, normalizer: 40 });
    expectScalarClose(await result.total(), want.total, 2e-5, 1e-6, 'total');
    expect(result.gradLogits.dtype).toBe('f16');
    expectClose(await readNumbers(result.gradLogits), want.gradLogits, { rtol: 2e-3, atol: 1e-3 * maxAbs(want.gradLogits) });
  });

  for (const [rows, vocab, normalizer] of [
    [64, 1000, undefined],
    [33, 1001, 50],
  ] as const) {
    gpuTest(`row weights (a quarter 0), ${rows} × ${vocab}, ignore-index rows${normalizer ? ', normaliser' : ''}`, async ({ device }) => {
      const z = makeLogits(rows + 1, rows, vocab, { maskFraction: 0.05 });
      const labels = makeLabels(3, rows, vocab, 4);
      for (let r = 0; r < rows; r++) if (labels[r]! >= 0) z[r * vocab + labels[r]!] = 1;
      const rowWeights = makeRowWeights(4, rows);
      const result = await crossEntropy({
        logits: upload(device, z, [rows, vocab], 'logits'),
        labels: upload(device, labels, [rows], 'labels'),
        rowWeights: upload(device, rowWeights, [rows], 'w'),
        weight: 0.5,
        normalizer,
      });
      const want = crossEntropyReference({ rows, vocab, logits: z, labels, rowWeights, weight: 0.5, normalizer });
      expectScalarClose(await result.total(), want.total, 2e-5, 1e-6, 'total');
      expect(await result.rows()).toBe(want.rows);
      expectClose(await readFloat32(result.perRow.hard), want.perRow.hard, { rtol: 2e-5, atol: 1e-6 });
      const grad = await readFloat32(result.gradLogits);
      expectClose(grad, want.gradLogits, { atol: 2e-5 * maxAbs(want.gradLogits) });
      for (let r = 0; r < rows; r++)
        if (rowWeights[r] === 0)
          expect(
            grad.subarray(r * vocab, (r + 1) * vocab).every((g) => g === 0),
            `gradient row ${r}`,
          ).toBe(true);
      result.release();
    });
  }

  gpuTest('row weights with f16 logits and an f16 gradient', async ({ device }) => {
    if (!device.features.has('shader-f16')) return;
    const z = roundF16(makeLogits(5, 16, 1000));
    const labels = makeLabels(6, 16, 1000, 5);
    const rowWeights = makeRowWeights(7, 16);
    const result = await crossEntropy({
      logits: upload(device, z, [16, 1000], 'logits', 'f16'),
      labels: upload(device, labels, [16], 'labels'),
      rowWeights: upload(device, rowWeights, [16], 'w'),
    });
    const want = crossEntropyReference({ rows: 16, vocab: 1000, logits: z, labels, rowWeights });
    expectScalarClose(await result.total(), want.total, 2e-5, 1e-6, 'total');
    expectClose(await readNumbers(result.gradLogits), want.gradLogits, { rtol: 2e-3, atol: 1e-3 * maxAbs(want.gradLogits) });
  });

  gpuTest('labels out of range and NaN logits are typed errors', async ({ device }) => {
    const z = makeLogits(5, 3, 10);
    const error = await caught(() =>
      crossEntropy({ logits: upload(device, z, [3, 10], 'z'), labels: upload(device, Int32Array.from([0, -5, 2]), [3], 'y') }),
    );
    expect(error.code).toBe('E_BAD_VALUE');
    expect(error.message).toContain('labels[1] must be an integer in [0, 10) or ignoreIndex (-100), got -5');
    z[25] = Number.NaN;
    const error2 = await caught(() =>
      crossEntropy({ logits: upload(device, z, [3, 10], 'z'), labels: upload(device, Int32Array.from([0, 1, 2]), [3], 'y') }),
    );
    expect(error2.code).toBe('E_NON_FINITE');
    expect(error2.message).toContain('logits row 2');
    expect(
      (
        await caught(() =>
          crossEntropy({
            logits: upload(device, z, [3, 10], 'z'),
            labels: upload(device, Int32Array.from([0, 1, 2]), [3], 'y'),
            weight: -1,
          }),
        )
      ).details.field,
    ).toBe('hardWeight');
    const shape = await caught(() =>
      crossEntropy({
        logits: upload(device, z, [3, 10], 'z'),
        labels: upload(device, Int32Array.from([0, 1, 2]), [3], 'y'),
        rowWeights: upload(device, new Float32Array(2), [2], 'w'),
      }),
    );
    expect(shape.code).toBe('E_SHAPE_MISMATCH');
    expect(shape.message).toContain('rowWeights has shape [2], expected [3]');
  });
});
