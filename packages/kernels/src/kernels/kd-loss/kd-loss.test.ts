import { describe, expect } from 'vitest';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { expectClose, expectScalarClose, makeLabels, makeLogits, makeTopk, maxAbs, upload } from '../../../test/helpers.js';
import { runKdCase } from '../../../test/kd-case.js';
import { kdLoss, type KdLossOptions } from '../../index.js';
import { kdLossReference } from '../../reference.js';

const f16 = (device: GPUDevice) => device.features.has('shader-f16');

gpuDescribe('kdLoss vs the float64 reference (f32: rtol 2e-5 on losses, 2e-5·max|g| on gradients)', () => {
  describe('every divergence and β ∈ {0, 1e-6, 0.5, 1 − 1e-6, 1}', () => {
    for (const divergence of ['forward-kl', 'reverse-kl'] as const) {
      gpuTest(`${divergence}: −inf entries, ignore-index rows, hard term`, async ({ device }) => {
        // Forward KL is +inf where the student masks a token the teacher keeps (and reverse KL the other way): mask the other side.
        const mask = { maskFraction: 0.05 };
        await runKdCase(device, {
          rows: 64,
          vocab: 1000,
          divergence,
          ignoreEvery: 5,
          temperature: 2,
          ...(divergence === 'forward-kl' ? { teacherLogits: mask } : { student: mask }),
        });
      });
    }
    for (const beta of [0, 1e-6, 0.5, 1 - 1e-6, 1]) {
      for (const jsdNormalized of [false, true]) {
        gpuTest(`jsd β=${beta}${jsdNormalized ? ' (normalised)' : ''}`, async ({ device }) => {
          await runKdCase(device, {
            rows: 3,
            vocab: 1000,
            divergence: 'jsd',
            beta,
            jsdNormalized,
            temperature: 1.5,
            student: { maskFraction: 0.02 },
            teacherLogits: { maskFraction: 0.02 },
            // Near the ends the value is O(1e-6) · KL: compare relatively.
            rtol: 1e-4,
          });
        });
      }
    }
  });

  describe('in place (the gradient overwrites the logits): every teacher kind and divergence, vec4 and scalar, f16', () => {
    const base = { inPlace: true, temperature: 2, ignoreEvery: 5 };
    for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
      for (const vocab of [1000, 1001]) {
        gpuTest(`dense ${divergence}, vocabulary ${vocab}, −inf entries, row weights`, async ({ device }) => {
          const mask = { maskFraction: 0.05 };
          await runKdCase(device, {
            ...base,
            rows: 64,
            vocab,
            divergence,
            rowWeights: 'random',
            ...(divergence === 'reverse-kl' ? { student: mask } : { teacherLogits: mask }),
          });
        });
      }
      for (const tail of ['ignore', 'bucket'] as const) {
        if (divergence === 'reverse-kl' && tail === 'ignore') continue;
        gpuTest(
          `top-k k=20 tail=${tail} ${divergence}: the support gradient is kept aside while the logits are overwritten`,
          async ({ device }) => {
            await runKdCase(device, {
              ...base,
              rows: 64,
              vocab: 1000,
              teacher: 'topk',
              k: 20,
              tail,
              divergence,
              teacherLogits: { scale: 4 },
            });
          },
        );
      }
    }
    gpuTest('cross-entropy only, 1 × 1 and 3 × 32,000', async ({ device }) => {
      await runKdCase(device, { ...base, rows: 1, vocab: 1, teacher: 'none', ignoreEvery: 0 });
      await runKdCase(device, { ...base, rows: 3, vocab: 32_000, teacher: 'none', ignoreEvery: 0, step: 7 });
    });
    gpuTest('f16 student and teacher; f16 student with top-k', async ({ device }) => {
      if (!f16(device)) return;
      await runKdCase(device, { ...base, rows: 8, vocab: 1000, studentDtype: 'f16', teacherDtype: 'f16', rtol: 2e-3 });
      await runKdCase(device, { ...base, rows: 8, vocab: 1000, studentDtype: 'f16', teacher: 'topk', k: 8, tail: 'bucket', rtol: 2e-3 });
    });
  });

  describe('temperatures T ∈ {0.5, 1, 2, 4, 20}', () => {
    for (const temperature of [0.5, 1, 2, 4, 20]) {
      gpuTest(`T=${temperature}, logits up to 1e4`, async ({ device }) => {
        await runKdCase(device, {
          rows: 64,
          vocab: 1000,
          temperature,
          student: { scale: 3000 },
          teacherLogits: { scale: 3000 },
          ignoreEvery: 7,
        });
        await runKdCase(device, {
          rows: 3,
          vocab: 1000,
          temperature,
          divergence: 'jsd',
          student: { scale: 30, offset: 1e4 },
          teacherLogits: { scale: 30, offset: -1e4 },
        });
      });
    }
  });

  describe('dense reverse KL (D summed online in row-stats, finished in the row merge)', () => {
    // Row 0: first columns masked in both; row 1: student's first column masked; row 2: teacher's
    // first column masked where the student keeps it (+inf); row 3: teacher masks a student token
    // whose q is 0 after the merge (finite).
    const edit = (V: number) => (z: Float32Array, t: Float32Array) => {
      z[0] = t[0] = -Infinity;
      z[V] = -Infinity;
      // The row's largest student logit, so its q > 0 at every T in float64 and f32 alike.
      z[2 * V] = Math.max(...z.subarray(2 * V, 3 * V)) + 1;
      t[2 * V] = -Infinity;
      // q = exp(−1e5 / T) is 0 in f32 and in float64.
      z[3 * V + 5] = z[3 * V + 6]! - 1e5;
      t[3 * V + 5] = -Infinity;
    };
    for (const temperature of [0.5, 1, 2, 4, 20]) {
      gpuTest(`T=${temperature}: logits around ±1e4, −inf entries and masked first columns, hard term`, async ({ device }) => {
        await runKdCase(device, {
          rows: 8,
          vocab: 1000,
          temperature,
          divergence: 'reverse-kl',
          student: { scale: 30, offset: 1e4, maskFraction: 0.05 },
          teacherLogits: { scale: 30, offset: -1e4 },
          edit: edit(1000),
        });
      });
    }
    gpuTest('rows split over chunks (4 × 32,000 and 1 × 151,937), vec4 and scalar, T = 4 and 2', async ({ device }) => {
      for (const [rows, vocab, temperature] of [
        [4, 32_000, 4],
        [4, 32_001, 2],
        [1, 151_937, 4],
      ] as const) {
        await runKdCase(device, {
          rows,
          vocab,
          temperature,
          divergence: 'reverse-kl',
          student: { scale: 8, offset: 3000, maskFraction: 0.01 },
          teacherLogits: { scale: 8, offset: -50 },
          edit: rows === 4 ? edit(vocab) : undefined,
          step: 7,
        });
      }
    });
    gpuTest('f16 student and teacher (vec4 and scalar rows), hard term, row weights', async ({ device }) => {
      if (!f16(device)) return;
      for (const vocab of [1000, 1001]) {
        await runKdCase(device, {
          rows: 16,
          vocab,
          divergence: 'reverse-kl',
          studentDtype: 'f16',
          teacherDtype: 'f16',
          student: { maskFraction: 0.05 },
          rowWeights: 'random',
          rtol: 2e-3,
        });
      }
    });
  });

  describe('vocabularies 1 … 151,936 and rows 1 … 1024 (lengths not multiples of 4 take the scalar path)', () => {
    const shapes: Array<[number, number]> = [
      [1, 1],
      [3, 3],
      [64, 7],
      [1024, 7],
      [1024, 1000],
      [3, 32_000],
      [1, 128_256],
      [3, 151_936],
      [1, 151_937],
    ];
    for (const [rows, vocab] of shapes) {
      gpuTest(`${rows} × ${vocab}`, async ({ device }) => {
        await runKdCase(device, { rows, vocab, temperature: 2, ignoreEvery: rows > 2 ? 3 : 0, step: vocab > 10_000 ? 7 : 1 });
      });
    }
  });

  describe('top-k teacher, k ∈ {1, 20, 128}, both tail modes', () => {
    for (const k of [1, 20, 128]) {
      for (const tail of ['ignore', 'bucket'] as const) {
        for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
          if (divergence === 'reverse-kl' && tail === 'ignore') continue;
          gpuTest(`k=${k} tail=${tail} ${divergence}`, async ({ device }) => {
            await runKdCase(device, {
              rows: 64,
              vocab: 1000,
              teacher: 'topk',
              k,
              tail,
              divergence,
              temperature: 2,
              ignoreEvery: 4,
              teacherLogits: { scale: 4 },
            });
          });
        }
      }
    }
    gpuTest("tail 'ignore' with the tail mass given (as an offline cache gives it): not read, same as without", async ({ device }) => {
      await runKdCase(device, {
        rows: 16,
        vocab: 1000,
        teacher: 'topk',
        k: 20,
        tail: 'ignore',
        passTailMass: true,
        labels: true,
        temperature: 2,
        teacherLogits: { scale: 4 },
      });
    });
    gpuTest('k=128 over 32,000 tokens with the tail mass given, T=4', async ({ device }) => {
      await runKdCase(device, { rows: 3, vocab: 32_000, teacher: 'topk', k: 128, tail: 'bucket', passTailMass: true, temperature: 4 });
    });
  });

  describe('conventions', () => {
    gpuTest('no T², caller normaliser, soft term only', async ({ device }) => {
      await runKdCase(device, { rows: 64, vocab: 1000, scaleByTemperatureSquared: false, normalizer: 1000, labels: false, temperature: 3 });
    });
    gpuTest(
      'rows that are entirely −inf (student or teacher) and do not count (label = ignoreIndex) give 0 and no NaN',
      async ({ device }) => {
        // Counted fully masked rows are rejected (kd-loss.masked.test.ts); ignored ones are fine.
        for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
          await runKdCase(device, {
            rows: 5,
            vocab: 100,
            divergence,
            student: { emptyRows: [1] },
            teacherLogits: { emptyRows: [3] },
            ignoreEvery: 2,
          });
        }
      },
    );
    gpuTest('all rows ignored: totals 0, gradient 0', async ({ device }) => {
      await runKdCase(device, { rows: 4, vocab: 100, ignoreEvery: 1 });
    });
    gpuTest('teacher vocabulary larger than the student’s: truncate and mask', async ({ device }) => {
      for (const vocabMismatch of ['truncate', 'mask'] as const) {
        for (const divergence of ['reverse-kl', 'jsd'] as const) {
          await runKdCase(device, { rows: 8, vocab: 1000, teacherVocab: 1004, vocabMismatch, divergence });
        }
        await runKdCase(device, { rows: 8, vocab: 1001, teacherVocab: 1010, vocabMismatch, divergence: 'jsd' });
      }
      // Forward KL with a masked student and a teacher that keeps mass beyond V: the honest +inf.
      await runKdCase(device, { rows: 8, vocab: 1000, teacherVocab: 1004, vocabMismatch: 'truncate', divergence: 'forward-kl' });
    });
  });

  describe('per-row weights (random, a quarter of them 0; N unchanged)', () => {
    for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
      for (const normalizer of [undefined, 97]) {
        gpuTest(
          `dense ${divergence}, ignore-index rows, ${normalizer ? 'caller normaliser' : 'N = active rows'}; vec4 and scalar rows`,
          async ({ device }) => {
            const mask = { maskFraction: 0.05 };
            const masked = divergence === 'forward-kl' ? { teacherLogits: mask } : { student: mask };
            await runKdCase(device, { rows: 64, vocab: 1000, divergence, normalizer, ignoreEvery: 5, rowWeights: 'random', ...masked });
            await runKdCase(device, {
              rows: 17,
              vocab: 1001,
              divergence,
              normalizer,
              ignoreEvery: 4,
              rowWeights: 'random',
              seed: 5,
              ...masked,
            });
          },
        );
      }
    }
    for (const [divergence, tail] of [
      ['forward-kl', 'ignore'],
      ['forward-kl', 'bucket'],
      ['reverse-kl', 'bucket'],
      ['jsd', 'ignore'],
      ['jsd', 'bucket'],
    ] as const) {
      gpuTest(`top-k k=20 tail=${tail} ${divergence}`, async ({ device }) => {
        await runKdCase(device, {
          rows: 64,
          vocab: 1000,
          teacher: 'topk',
          k: 20,
          tail,
          divergence,
          ignoreEvery: 4,
          rowWeights: 'random',
          teacherLogits: { scale: 4 },
        });
        await runKdCase(device, {
          rows: 9,
          vocab: 999,
          teacher: 'topk',
          k: 20,
          tail,
          divergence,
          normalizer: 30,
          rowWeights: 'random',
          seed: 3,
        });
      });
    }
    gpuTest('cross-entropy only (no teacher), with and without a normaliser', async ({ device }) => {
      await runKdCase(device, { rows: 64, vocab: 1000, teacher: 'none', hardWeight: 0.7, ignoreEvery: 3, rowWeights: 'random' });
      await runKdCase(device, { rows: 5, vocab: 33, teacher: 'none', hardWeight: 1, normalizer: 11, rowWeights: 'random' });
    });
    gpuTest('f16 student and teacher, f16 gradient; f16 student with top-k', async ({ device }) => {
      if (!f16(device)) return;
      await runKdCase(device, { rows: 64, vocab: 1000, studentDtype: 'f16', teacherDtype: 'f16', ignoreEvery: 5, rowWeights: 'random' });
      await runKdCase(device, {
        rows: 16,
        vocab: 1001,
        studentDtype: 'f16',
        teacherDtype: 'f16',
        divergence: 'jsd',
        normalizer: 40,
        rowWeights: 'random',
      });
      await runKdCase(device, {
        rows: 16,
        vocab: 1000,
        studentDtype: 'f16',
        teacher: 'topk',
        k: 20,
        tail: 'bucket',
        divergence: 'reverse-kl',
        rowWeights: 'random',
      });
    });
    gpuTest('a weight of 0 removes a row whose loss is +inf; ignored rows stay out of N whatever their weight', async ({ device }) => {
      const rows = 6;
      const V = 50;
      const z = makeLogits(1, rows, V);
      const t = makeLogits(2, rows, V);
      // Row 0's student masks a token its teacher keeps: its forward KL is +inf.
      z[3] = -Infinity;
      const labels = Int32Array.from([4, 7, -100, 9, -100, 1]);
      // An ignored row's weight is never read: NaN there is no error.
      const rowWeights = Float32Array.from([0, 1.5, Number.NaN, 0.25, 7, 2]);
      const options = { temperature: 2, softWeight: 1, hardWeight: 0.5 };
      const result = await kdLoss({
        ...options,
        studentLogits: upload(device, z, [rows, V], 'z'),
        teacher: { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
        labels: upload(device, labels, [rows], 'labels'),
        rowWeights: upload(device, rowWeights, [rows], 'w'),
      });
      const want = kdLossReference({
        ...options,
        rows,
        vocab: V,
        studentLogits: z,
        teacher: { kind: 'dense', logits: t },
        labels,
        rowWeights,
      });
      expect(kdLossReference({ ...options, rows, vocab: V, studentLogits: z, teacher: { kind: 'dense', logits: t }, labels }).total).toBe(
        Infinity,
      );
      expect(Number.isFinite(want.total)).toBe(true);
      expect(await result.rows()).toBe(4);
      expect(await result.normalizer()).toBe(4);
      expectScalarClose(await result.total(), want.total, 2e-5, 1e-6, 'total');
      expectClose(await readFloat32(result.perRow.total), want.perRow.total, { rtol: 2e-5, atol: 1e-6, what: 'perRow.total' });
      const grad = await readFloat32(result.gradLogits);
      expectClose(grad, want.gradLogits, { rtol: 1e-4, atol: 2e-5 * maxAbs(want.gradLogits), what: 'gradLogits' });
      for (const r of [0, 2, 4])
        expect(
          grad.subarray(r * V, (r + 1) * V).every((g) => g === 0),
          `gradient row ${r}`,
        ).toBe(true);
      result.release();
    });

    gpuTest('all-ones weights give results identical to no weights', async ({ device }) => {
      const cases: Array<Partial<KdLossOptions> & { rows: number; V: number; topk?: boolean }> = [
        { rows: 33, V: 1000, divergence: 'forward-kl' },
        { rows: 33, V: 1001, divergence: 'reverse-kl', normalizer: 50 },
        { rows: 16, V: 1000, divergence: 'jsd', beta: 0.3 },
        { rows: 16, V: 1000, divergence: 'jsd', tail: 'bucket', topk: true },
      ];
      for (const { rows, V, topk, ...options } of cases) {
        const z = makeLogits(rows, rows, V);
        const t = makeLogits(rows + 1, rows, V);
        const top = makeTopk(t, rows, V, 20);
        const base: KdLossOptions = {
          ...options,
          temperature: 2,
          softWeight: 1,
          hardWeight: 0.5,
          studentLogits: upload(device, z, [rows, V], 'z'),
          teacher: topk
            ? {
                kind: 'topk',
                k: 20,
                indices: upload(device, top.indices, [rows, 20], 'i'),
                logprobs: upload(device, top.logprobs, [rows, 20], 'lp'),
              }
            : { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
          labels: upload(device, makeLabels(rows + 2, rows, V, 4), [rows], 'labels'),
        };
        const plain = await kdLoss(base);
        const ones = await kdLoss({ ...base, rowWeights: upload(device, new Float32Array(rows).fill(1), [rows], 'ones') });
        const what = `${options.divergence}${topk ? ' top-k' : ''}`;
        expect(await ones.total(), what).toBe(await plain.total());
        expect(await ones.soft(), what).toBe(await plain.soft());
        expect(await ones.hard(), what).toBe(await plain.hard());
        expect(await readFloat32(ones.perRow.total), what).toEqual(await readFloat32(plain.perRow.total));
        expect(await readFloat32(ones.gradLogits), what).toEqual(await readFloat32(plain.gradLogits));
        plain.release();
        ones.release();
      }
    });
  });

  describe('f16 inputs (f32 accumulation; gradients compared to f16 rounding)', () => {
    gpuTest('f16 student and teacher, f16 gradient', async ({ device }) => {
      if (!f16(device)) return;
      await runKdCase(device, { rows: 64, vocab: 1000, studentDtype: 'f16', teacherDtype: 'f16', ignoreEvery: 5 });
      await runKdCase(device, { rows: 3, vocab: 1001, studentDtype: 'f16', teacherDtype: 'f16', divergence: 'jsd' });
    });
    gpuTest('f16 student, f32 teacher, f32 gradient; top-k', async ({ device }) => {
      if (!f16(device)) return;
      await runKdCase(device, { rows: 16, vocab: 32_000, studentDtype: 'f16', gradDtype: 'f32', step: 5 });
      await runKdCase(device, {
        rows: 16,
        vocab: 1000,
        studentDtype: 'f16',
        teacher: 'topk',
        k: 20,
        tail: 'bucket',
        divergence: 'reverse-kl',
      });
    });
  });
});
