import { describe, expect } from 'vitest';
import { acquireDevice, CommandRecorder } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { caught, makeLabels, makeLogits, makeTopk, upload } from '../../../test/helpers.js';
import { kdLoss, recordKdLoss, type KdLossOptions } from '../../index.js';

const rows = 4;
const V = 50;

gpuDescribe('kdLoss: bad input is a typed error naming the field and the value', () => {
  const base = (device: GPUDevice, z = makeLogits(1, rows, V), t = makeLogits(2, rows, V)): KdLossOptions => ({
    studentLogits: upload(device, z, [rows, V], 'z'),
    teacher: { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
    labels: upload(device, makeLabels(3, rows, V), [rows], 'labels'),
    temperature: 2,
    softWeight: 1,
    hardWeight: 0.5,
  });

  describe('non-finite inputs: E_NON_FINITE from the per-row flags the kernel writes (checked on readback)', () => {
    gpuTest('NaN in the student logits names the tensor and the first bad row', async ({ device }) => {
      const z = makeLogits(1, rows, V);
      z[2 * V + 7] = Number.NaN;
      z[3 * V] = Number.NaN;
      const error = await caught(() => kdLoss(base(device, z)));
      expect(error.code).toBe('E_NON_FINITE');
      expect(error.message).toContain('studentLogits row 2');
      expect(error.details).toMatchObject({ field: 'studentLogits', row: 2 });
    });
    gpuTest('+Inf in the teacher logits (−Inf is allowed)', async ({ device }) => {
      const t = makeLogits(2, rows, V);
      t[1 * V + 3] = Infinity;
      t[0] = -Infinity;
      const error = await caught(() => kdLoss(base(device, undefined, t)));
      expect(error.code).toBe('E_NON_FINITE');
      expect(error.details).toMatchObject({ field: 'teacher.logits', row: 1 });
    });
    gpuTest("check: 'lazy' returns at once and every readback throws", async ({ device }) => {
      const z = makeLogits(1, rows, V);
      z[5] = Number.NaN;
      const result = await kdLoss({ ...base(device, z), check: 'lazy' });
      expect((await caught(result.total)).code).toBe('E_NON_FINITE');
      expect((await caught(() => result.terms.soft!.reduced())).code).toBe('E_NON_FINITE');
      expect((await caught(result.check)).details).toMatchObject({ row: 0 });
    });
    gpuTest('NaN in top-k logprobs', async ({ device }) => {
      const top = makeTopk(makeLogits(2, rows, V), rows, V, 5);
      top.logprobs[3 * 5 + 1] = Number.NaN;
      const error = await caught(() =>
        kdLoss({
          ...base(device),
          teacher: {
            kind: 'topk',
            k: 5,
            indices: upload(device, top.indices, [rows, 5], 'i'),
            logprobs: upload(device, top.logprobs, [rows, 5], 'lp'),
          },
        }),
      );
      expect(error.code).toBe('E_NON_FINITE');
      expect(error.details).toMatchObject({ field: 'teacher.logprobs', row: 3 });
    });
  });

  describe('values out of range', () => {
    gpuTest('a label outside [0, V) that is not ignoreIndex', async ({ device }) => {
      const labels = Int32Array.from([1, -100, V, 2]);
      const error = await caught(() => kdLoss({ ...base(device), labels: upload(device, labels, [rows], 'labels') }));
      expect(error.code).toBe('E_BAD_VALUE');
      expect(error.message).toContain(`labels[2] must be an integer in [0, ${V}) or ignoreIndex (-100), got ${V}`);
      expect(error.details).toMatchObject({ field: 'labels[2]', value: V });
    });
    gpuTest('a top-k index outside the vocabulary, and log-probabilities above 0', async ({ device }) => {
      const top = makeTopk(makeLogits(2, rows, V), rows, V, 3);
      top.indices[1 * 3 + 2] = V + 4;
      const topk = (lp = top.logprobs) => ({
        kind: 'topk' as const,
        k: 3,
        indices: upload(device, top.indices, [rows, 3], 'i'),
        logprobs: upload(device, lp, [rows, 3], 'lp'),
      });
      const error = await caught(() => kdLoss({ ...base(device), teacher: topk() }));
      expect(error.code).toBe('E_BAD_VALUE');
      expect(error.message).toContain(`teacher.indices[1][2] must be a token index in [0, ${V}), got ${V + 4}`);
      expect(error.message).toContain("vocabMismatch 'truncate' or 'mask'");
      top.indices[1 * 3 + 2] = 0;
      const positive = Float32Array.from(top.logprobs);
      positive[2 * 3] = 0.5;
      const error2 = await caught(() => kdLoss({ ...base(device), teacher: topk(positive) }));
      expect(error2.code).toBe('E_BAD_VALUE');
      expect(error2.details).toMatchObject({ field: 'teacher.logprobs', row: 2 });
    });
    gpuTest('tailMass outside [0, 1]', async ({ device }) => {
      const top = makeTopk(makeLogits(2, rows, V), rows, V, 3);
      top.tailMass[3] = 1.5;
      const error = await caught(() =>
        kdLoss({
          ...base(device),
          tail: 'bucket',
          teacher: {
            kind: 'topk',
            k: 3,
            indices: upload(device, top.indices, [rows, 3], 'i'),
            logprobs: upload(device, top.logprobs, [rows, 3], 'lp'),
            tailMass: upload(device, top.tailMass, [rows], 'tm'),
          },
        }),
      );
      expect(error.code).toBe('E_BAD_VALUE');
      expect(error.message).toContain('teacher.tailMass[3] must be a probability in [0, 1], got 1.5');
    });
    gpuTest('T ≤ 0, negative or non-finite weights, β outside [0, 1], a bad normaliser', async ({ device }) => {
      const b = base(device);
      const cases: Array<[Partial<KdLossOptions>, string]> = [
        [{ temperature: 0 }, 'temperature'],
        [{ temperature: -2 }, 'temperature'],
        [{ softWeight: -1 }, 'softWeight'],
        [{ hardWeight: Number.NaN }, 'hardWeight'],
        [{ divergence: 'jsd', beta: 1.5 }, 'beta'],
        [{ normalizer: 0 }, 'normalizer'],
        [{ ignoreIndex: 0.5 }, 'ignoreIndex'],
        [{ divergence: 'kl' as never }, 'divergence'],
        [{ tail: 'drop' as never }, 'tail'],
      ];
      for (const [patch, field] of cases) {
        const error = await caught(() => kdLoss({ ...b, ...patch }));
        expect(error.code, field).toBe('E_BAD_VALUE');
        expect(error.details.field).toBe(field);
        expect(error.message).toContain(field);
      }
    });
    gpuTest('k larger than the vocabulary', async ({ device }) => {
      const k = V + 1;
      const error = await caught(() =>
        kdLoss({
          ...base(device),
          teacher: {
            kind: 'topk',
            k,
            indices: upload(device, new Int32Array(rows * k), [rows, k], 'i'),
            logprobs: upload(device, new Float32Array(rows * k), [rows, k], 'lp'),
          },
        }),
      );
      expect(error.code).toBe('E_BAD_VALUE');
      expect(error.details.field).toBe('teacher.k');
    });
    gpuTest('soft weight without a teacher, hard weight without labels', async ({ device }) => {
      const b = base(device);
      expect((await caught(() => kdLoss({ ...b, teacher: undefined }))).details.field).toBe('teacher');
      expect((await caught(() => kdLoss({ ...b, labels: undefined }))).details.field).toBe('labels');
    });
  });

  describe('shapes', () => {
    gpuTest('rows or vocabularies that disagree are E_SHAPE_MISMATCH', async ({ device }) => {
      const b = base(device);
      const shorter = upload(device, makeLogits(2, rows - 1, V), [rows - 1, V], 't');
      expect((await caught(() => kdLoss({ ...b, teacher: { kind: 'dense', logits: shorter } }))).code).toBe('E_SHAPE_MISMATCH');
      expect((await caught(() => kdLoss({ ...b, labels: upload(device, new Int32Array(rows + 1), [rows + 1], 'l') }))).code).toBe(
        'E_SHAPE_MISMATCH',
      );
      const wider = upload(device, makeLogits(2, rows, V + 3), [rows, V + 3], 't');
      const error = await caught(() => kdLoss({ ...b, teacher: { kind: 'dense', logits: wider } }));
      expect(error.code).toBe('E_SHAPE_MISMATCH');
      expect(error.message).toContain("vocabMismatch 'truncate'");
      const narrower = upload(device, makeLogits(2, rows, V - 3), [rows, V - 3], 't');
      expect((await caught(() => kdLoss({ ...b, teacher: { kind: 'dense', logits: narrower }, vocabMismatch: 'truncate' }))).code).toBe(
        'E_SHAPE_MISMATCH',
      );
    });
    gpuTest('reverse KL with an ignored top-k tail is E_UNSUPPORTED (it would be +inf)', async ({ device }) => {
      const top = makeTopk(makeLogits(2, rows, V), rows, V, 3);
      const error = await caught(() =>
        kdLoss({
          ...base(device),
          divergence: 'reverse-kl',
          teacher: {
            kind: 'topk',
            k: 3,
            indices: upload(device, top.indices, [rows, 3], 'i'),
            logprobs: upload(device, top.logprobs, [rows, 3], 'lp'),
          },
        }),
      );
      expect(error.code).toBe('E_UNSUPPORTED');
      expect(error.details.field).toBe('tail');
    });
    gpuTest('rowWeights: wrong dtype, wrong shape or another device name the field and the value', async ({ device }) => {
      const b = base(device);
      const dtype = await caught(() => kdLoss({ ...b, rowWeights: upload(device, new Int32Array(rows), [rows], 'w') }));
      expect(dtype.code).toBe('E_BAD_VALUE');
      expect(dtype.details).toMatchObject({ field: 'rowWeights.dtype', value: 'i32' });
      expect(dtype.message).toContain('rowWeights.dtype');
      for (const shape of [[rows + 1], [rows, 1]]) {
        const error = await caught(() =>
          kdLoss({ ...b, rowWeights: upload(device, new Float32Array(shape.reduce((x, y) => x * y)), shape, 'w') }),
        );
        expect(error.code).toBe('E_SHAPE_MISMATCH');
        expect(error.details).toMatchObject({ field: 'rowWeights', value: shape });
        expect(error.message).toContain('rowWeights');
        expect(error.message).toContain(`[${rows}]`);
      }
      expect((await caught(() => kdLoss({ ...b, rowWeights: new Float32Array(rows) as never }))).details.field).toBe('rowWeights');
      const other = await acquireDevice({ label: 'other-device' });
      try {
        const error = await caught(() => kdLoss({ ...b, rowWeights: upload(other.device, new Float32Array(rows).fill(1), [rows], 'w') }));
        expect(error.code).toBe('E_BAD_VALUE');
        expect(error.details.field).toBe('rowWeights');
        expect(error.message).toContain('another GPUDevice');
      } finally {
        other.device.destroy();
      }
    });
    gpuTest(
      'rowWeights: a negative or non-finite weight on a row that counts is E_BAD_VALUE naming the row and the value',
      async ({ device }) => {
        const labels = Int32Array.from([1, -100, 2, 3]);
        const b = { ...base(device), labels: upload(device, labels, [rows], 'labels') };
        for (const [bad, shown] of [
          [Number.NaN, 'NaN'],
          [Infinity, 'Infinity'],
          [-0.5, '-0.5'],
        ] as const) {
          const w = Float32Array.from([1, 1, 1, bad]);
          w[1] = Number.NaN; // ignored row: never read
          const error = await caught(() => kdLoss({ ...b, rowWeights: upload(device, w, [rows], 'w') }));
          expect(error.code).toBe('E_BAD_VALUE');
          expect(error.message).toContain(`rowWeights[3] must be a finite weight ≥ 0, got ${shown}`);
          expect(error.details).toMatchObject({ field: 'rowWeights[3]', row: 3 });
        }
        const ok = await kdLoss({ ...b, rowWeights: upload(device, Float32Array.from([1, Number.NaN, -0, 2]), [rows], 'w') });
        expect(Number.isFinite(await ok.total())).toBe(true);
        ok.release();
      },
    );
    gpuTest('wrong dtypes name the field', async ({ device }) => {
      const b = base(device);
      expect((await caught(() => kdLoss({ ...b, labels: upload(device, new Float32Array(rows), [rows], 'l') }))).details.field).toBe(
        'labels.dtype',
      );
      expect(
        (await caught(() => kdLoss({ ...b, studentLogits: upload(device, new Int32Array(rows * V), [rows, V], 'z') }))).details.field,
      ).toBe('studentLogits.dtype');
    });
  });

  gpuTest('zero rows: an empty gradient and totals 0', async ({ device }) => {
    const result = await kdLoss({
      studentLogits: upload(device, new Float32Array(0), [0, V], 'z'),
      teacher: { kind: 'dense', logits: upload(device, new Float32Array(0), [0, V], 't') },
      softWeight: 1,
      hardWeight: 0,
    });
    expect(result.gradLogits.shape).toEqual([0, V]);
    expect(await result.total()).toBe(0);
    expect(await result.rows()).toBe(0);
  });

  gpuTest('several losses recorded into one recorder share one submit', async ({ device }) => {
    const recorder = new CommandRecorder(device, 'two-losses');
    const a = recordKdLoss(recorder, base(device));
    const b = recordKdLoss(recorder, { ...base(device), divergence: 'reverse-kl' });
    await recorder.submit();
    const [ta, tb] = [await a.total(), await b.total()];
    expect(ta).toBeGreaterThan(0);
    expect(tb).toBeGreaterThan(0);
    expect(await (await kdLoss(base(device))).total()).toBeCloseTo(ta, 5);
    a.release();
    b.release();
  });
});
