import { describe } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { runKdCase } from '../../../test/kd-case.js';

const f16 = (device: GPUDevice) => device.features.has('shader-f16');

gpuDescribe('kdLoss vs the float64 reference (f32: rtol 2e-5 on losses, 2e-5·max|g| on gradients)', () => {
  describe('every divergence and β ∈ {0, 1e-6, 0.5, 1 − 1e-6, 1}', () => {
    for (const divergence of ['forward-kl', 'reverse-kl'] as const) {
      gpuTest(`${divergence}: −inf entries, ignore-index rows, hard term`, async ({ device }) => {
        // Forward KL is +inf where the student masks a token the teacher keeps (and reverse KL the other way): mask the other side.
        const mask = { maskFraction: 0.05 };
        await runKdCase(device, { rows: 64, vocab: 1000, divergence, ignoreEvery: 5, temperature: 2, ...(divergence === 'forward-kl' ? { teacherLogits: mask } : { student: mask }) });
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

  describe('temperatures T ∈ {0.5, 1, 2, 4, 20}', () => {
    for (const temperature of [0.5, 1, 2, 4, 20]) {
      gpuTest(`T=${temperature}, logits up to 1e4`, async ({ device }) => {
        await runKdCase(device, { rows: 64, vocab: 1000, temperature, student: { scale: 3000 }, teacherLogits: { scale: 3000 }, ignoreEvery: 7 });
        await runKdCase(device, { rows: 3, vocab: 1000, temperature, divergence: 'jsd', student: { scale: 30, offset: 1e4 }, teacherLogits: { scale: 30, offset: -1e4 } });
      });
    }
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
            await runKdCase(device, { rows: 64, vocab: 1000, teacher: 'topk', k, tail, divergence, temperature: 2, ignoreEvery: 4, teacherLogits: { scale: 4 } });
          });
        }
      }
    }
    gpuTest('k=128 over 32,000 tokens with the tail mass given, T=4', async ({ device }) => {
      await runKdCase(device, { rows: 3, vocab: 32_000, teacher: 'topk', k: 128, tail: 'bucket', passTailMass: true, temperature: 4 });
    });
  });

  describe('conventions', () => {
    gpuTest('no T², caller normaliser, soft term only', async ({ device }) => {
      await runKdCase(device, { rows: 64, vocab: 1000, scaleByTemperatureSquared: false, normalizer: 1000, labels: false, temperature: 3 });
    });
    gpuTest('rows that are entirely −inf (student or teacher) give 0 and no NaN', async ({ device }) => {
      for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
        await runKdCase(device, { rows: 5, vocab: 100, divergence, student: { emptyRows: [1] }, teacherLogits: { emptyRows: [3] }, labels: false });
      }
    });
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

  describe('f16 inputs (f32 accumulation; gradients compared to f16 rounding)', () => {
    gpuTest('f16 student and teacher, f16 gradient', async ({ device }) => {
      if (!f16(device)) return;
      await runKdCase(device, { rows: 64, vocab: 1000, studentDtype: 'f16', teacherDtype: 'f16', ignoreEvery: 5 });
      await runKdCase(device, { rows: 3, vocab: 1001, studentDtype: 'f16', teacherDtype: 'f16', divergence: 'jsd' });
    });
    gpuTest('f16 student, f32 teacher, f32 gradient; top-k', async ({ device }) => {
      if (!f16(device)) return;
      await runKdCase(device, { rows: 16, vocab: 32_000, studentDtype: 'f16', gradDtype: 'f32', step: 5 });
      await runKdCase(device, { rows: 16, vocab: 1000, studentDtype: 'f16', teacher: 'topk', k: 20, tail: 'bucket', divergence: 'reverse-kl' });
    });
  });
});
