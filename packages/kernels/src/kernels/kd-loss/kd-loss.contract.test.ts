import { describe, expect, it } from 'vitest';
import { createRegistry, type Loss } from '@distillery/core';
import { bufferPool, readFloat32, zerosTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { caught, expectClose, expectScalarClose, makeLabels, makeLogits, makeRowWeights, upload } from '../../../test/helpers.js';
import { CrossEntropyLoss, kdLoss, KdLoss, plugins, rowWindow } from '../../index.js';
import { crossEntropyReference, kdLossReference } from '../../reference.js';

describe('plugins', () => {
  it('register as loss plugins and validate their config', async () => {
    const registry = createRegistry().register(...plugins);
    expect(registry.list('loss')).toEqual(['cross-entropy', 'kd']);
    const loss = await registry.create<Loss>('loss', { name: 'kd', divergence: 'jsd', beta: 0.3, temperature: 4 });
    expect(loss).toBeInstanceOf(KdLoss);
    expect(loss.hyperDefaults).toEqual({ temperature: 4, softWeight: 1, hardWeight: 0, beta: 0.3 });
    const error = await caught(() => registry.create('loss', { name: 'kd', temperature: -1 }));
    expect(error.code).toBe('E_BAD_CONFIG');
    expect(error.message).toContain('loss.temperature');
    expect(await registry.create('loss', 'cross-entropy')).toBeInstanceOf(CrossEntropyLoss);
  });
});

gpuDescribe('Loss contract', () => {
  gpuTest('KdLoss reads its hyper-parameters from inputs.hyper and returns LossOutput', async ({ device }) => {
    const rows = 8;
    const V = 300;
    const z = makeLogits(1, rows, V);
    const t = makeLogits(2, rows, V);
    const labels = makeLabels(3, rows, V, 4);
    const loss = new KdLoss({ divergence: 'reverse-kl' });
    const output = await loss.compute({
      studentLogits: upload(device, z, [rows, V], 'z'),
      targets: { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
      labels: upload(device, labels, [rows], 'labels'),
      hyper: { temperature: 3, softWeight: 0.25, hardWeight: 0.75 },
    });
    const want = kdLossReference({
      rows,
      vocab: V,
      studentLogits: z,
      teacher: { kind: 'dense', logits: t },
      labels,
      divergence: 'reverse-kl',
      temperature: 3,
      softWeight: 0.25,
      hardWeight: 0.75,
    });
    expectScalarClose(await output.total(), want.total, 2e-5, 1e-6, 'total');
    expectScalarClose(await output.terms.soft!.reduced(), want.soft, 2e-5, 1e-6, 'soft');
    expectScalarClose(await output.terms.hard!.reduced(), want.hard, 2e-5, 1e-6, 'hard');
    expect(await output.rows()).toBe(6);
    expectClose(await readFloat32(output.terms.hard!.perRow as GpuTensor), want.perRow.hard, { rtol: 2e-5, atol: 1e-6 });
    expectClose(await readFloat32(output.gradLogits), want.gradLogits, { atol: 1e-6 });
  });

  gpuTest('KdLoss and CrossEntropyLoss apply inputs.rowWeights and inputs.normalizer', async ({ device }) => {
    const rows = 8;
    const V = 300;
    const z = makeLogits(1, rows, V);
    const t = makeLogits(2, rows, V);
    const labels = makeLabels(3, rows, V, 4);
    const rowWeights = makeRowWeights(4, rows);
    const shared = {
      studentLogits: upload(device, z, [rows, V], 'z'),
      labels: upload(device, labels, [rows], 'labels'),
      rowWeights: upload(device, rowWeights, [rows], 'w'),
      normalizer: 20,
    };
    const kd = await new KdLoss({ divergence: 'jsd' }).compute({
      ...shared,
      targets: { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
      hyper: { temperature: 2, softWeight: 0.5, hardWeight: 0.5 },
    });
    const want = kdLossReference({
      rows,
      vocab: V,
      studentLogits: z,
      teacher: { kind: 'dense', logits: t },
      labels,
      rowWeights,
      normalizer: 20,
      divergence: 'jsd',
      temperature: 2,
      softWeight: 0.5,
      hardWeight: 0.5,
    });
    expectScalarClose(await kd.total(), want.total, 2e-5, 1e-6, 'KdLoss total');
    expectClose(await readFloat32(kd.gradLogits), want.gradLogits, { atol: 1e-6, what: 'KdLoss gradient' });
    const ce = await new CrossEntropyLoss().compute({ ...shared, hyper: { weight: 2 } });
    const wantCe = crossEntropyReference({ rows, vocab: V, logits: z, labels, rowWeights, normalizer: 20, weight: 2 });
    expectScalarClose(await ce.total(), wantCe.total, 2e-5, 1e-6, 'CrossEntropyLoss total');
    expectClose(await readFloat32(ce.gradLogits), wantCe.gradLogits, { atol: 1e-6, what: 'CrossEntropyLoss gradient' });
  });

  gpuTest('a training loop does not leak: each compute releases the previous step’s output', async ({ device }) => {
    const loss = new KdLoss({ hardWeight: 0.5 });
    const inputs = {
      studentLogits: upload(device, makeLogits(1, 16, 300), [16, 300], 'z'),
      targets: { kind: 'dense' as const, logits: upload(device, makeLogits(2, 16, 300), [16, 300], 't') },
      labels: upload(device, makeLabels(3, 16, 300), [16], 'labels'),
      hyper: {},
    };
    await (await loss.compute(inputs)).total();
    const inUse = bufferPool(device).stats().bytesInUse;
    for (let step = 0; step < 5; step++) await (await loss.compute(inputs)).total();
    expect(bufferPool(device).stats().bytesInUse).toBe(inUse);
  });

  gpuTest('a caller normaliser makes gradient accumulation over micro-batches exact', async ({ device }) => {
    const rows = 12;
    const V = 500;
    const z = makeLogits(4, rows, V);
    const t = makeLogits(5, rows, V);
    const labels = makeLabels(6, rows, V, 5);
    const options = { temperature: 2, softWeight: 0.5, hardWeight: 0.5 };
    const run = async (from: number, to: number, normalizer?: number) =>
      kdLoss({
        ...options,
        normalizer,
        studentLogits: upload(device, z.subarray(from * V, to * V), [to - from, V], 'z'),
        teacher: { kind: 'dense', logits: upload(device, t.subarray(from * V, to * V), [to - from, V], 't') },
        labels: upload(device, labels.subarray(from, to), [to - from], 'labels'),
      });
    const full = await run(0, rows);
    const n = await full.rows();
    const a = await run(0, 5, n);
    const b = await run(5, rows, n);
    expectScalarClose((await a.total()) + (await b.total()), await full.total(), 1e-6, 1e-7, 'Σ micro-batch totals');
    const grads = [...(await readFloat32(a.gradLogits)), ...(await readFloat32(b.gradLogits))];
    expectClose(grads, await readFloat32(full.gradLogits), { atol: 1e-8, rtol: 1e-6, what: 'concatenated micro-batch gradients' });
  });

  for (const inPlace of [false, true])
    gpuTest(
      `a batch above maxStorageBufferBindingSize is split into row windows automatically${inPlace ? ' (in place)' : ''}`,
      async ({ device }) => {
        const V = 128_256;
        const rows = Math.floor(device.limits.maxStorageBufferBindingSize / (4 * V)) + 3;
        if (rows * V * 4 > 600 * 2 ** 20) return; // nothing to split on this device
        const z = makeLogits(7, rows, V, { scale: 2 });
        const t = makeLogits(8, rows, V, { scale: 2 });
        const labels = makeLabels(9, rows, V, 0);
        // Weights are indexed by the global row: rows past the first window must get their own.
        const rowWeights = Float32Array.from({ length: rows }, (_, r) => (r % 5) * 0.5);
        const result = await kdLoss({
          studentLogits: upload(device, z, [rows, V], 'z'),
          teacher: { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
          labels: upload(device, labels, [rows], 'labels'),
          rowWeights: upload(device, rowWeights, [rows], 'rowWeights'),
          temperature: 2,
          softWeight: 1,
          hardWeight: 0.5,
          inPlace,
        });
        const perRow = await readFloat32(result.perRow.total);
        const grad = await readFloat32(result.gradLogits);
        for (const r of [0, 1, rows - 2, rows - 1]) {
          const want = kdLossReference({
            rows: 1,
            vocab: V,
            studentLogits: z.subarray(r * V, (r + 1) * V),
            teacher: { kind: 'dense', logits: t.subarray(r * V, (r + 1) * V) },
            labels: labels.subarray(r, r + 1),
            rowWeights: rowWeights.subarray(r, r + 1),
            temperature: 2,
            softWeight: 1,
            hardWeight: 0.5,
            normalizer: rows,
          });
          expectScalarClose(perRow[r]!, want.perRow.total[0]!, 2e-5, 1e-6, `row ${r} loss`);
          expectClose(grad.subarray(r * V, (r + 1) * V), want.gradLogits, { atol: 1e-9, rtol: 1e-4, step: 3, what: `row ${r} gradient` });
        }
        result.release();
      },
    );

  gpuTest(
    "in place over row windows of larger tensors: only the window's rows change, errors name the window's row",
    async ({ device }) => {
      const rows = 192;
      const V = 300;
      const [first, n] = [64, 64];
      const z = makeLogits(11, rows, V);
      const t = makeLogits(12, rows, V);
      const labels = makeLabels(13, rows, V, 5);
      const zAll = upload(device, z, [rows, V], 'z');
      const tAll = upload(device, t, [rows, V], 't');
      const labelsAll = upload(device, labels, [rows], 'labels');
      const totalAll = zerosTensor(device, { shape: [rows], dtype: 'f32', label: 'total' });
      // 64 rows of f32 logits (and of 4-byte labels) start on a 256-byte boundary; 3 labels do not.
      expect(rowWindow(labelsAll, 3, 5)).toBeUndefined();
      const window = (tensor: GpuTensor) => rowWindow(tensor, first, n)!;
      const options = { temperature: 2, softWeight: 1, hardWeight: 0.5 };
      const result = await kdLoss({
        ...options,
        studentLogits: window(zAll),
        teacher: { kind: 'dense', logits: window(tAll) },
        labels: window(labelsAll),
        inPlace: true,
        perRow: { total: window(totalAll) },
      });
      const want = kdLossReference({
        ...options,
        rows: n,
        vocab: V,
        studentLogits: z.subarray(first * V, (first + n) * V),
        teacher: { kind: 'dense', logits: t.subarray(first * V, (first + n) * V) },
        labels: labels.subarray(first, first + n),
      });
      expectScalarClose(await result.total(), want.total, 2e-5, 1e-6, 'total');
      const after = await readFloat32(zAll);
      expectClose(after.subarray(first * V, (first + n) * V), want.gradLogits, {
        rtol: 1e-4,
        atol: 1e-9,
        what: 'gradient over the window',
      });
      expect(after.subarray(0, first * V)).toEqual(z.subarray(0, first * V));
      expect(after.subarray((first + n) * V)).toEqual(z.subarray((first + n) * V));
      const total = await readFloat32(totalAll);
      expectClose(total.subarray(first, first + n), want.perRow.total, { rtol: 2e-5, atol: 1e-6, what: 'perRow.total over the window' });
      expect([...total.subarray(0, first), ...total.subarray(first + n)].every((v) => v === 0)).toBe(true);
      result.release();
      // release() leaves the caller's tensors: the window's logits are still readable.
      expect((await readFloat32(zAll)).length).toBe(rows * V);

      // A bad label inside the window is reported by its row in the window, with its own value.
      const bad = Int32Array.from(labels);
      bad[first + 2] = V + 7;
      const badLabels = upload(device, bad, [rows], 'labels');
      const error = await caught(() =>
        kdLoss({
          ...options,
          studentLogits: window(upload(device, z, [rows, V], 'z2')),
          labels: rowWindow(badLabels, first, n)!,
          teacher: { kind: 'dense', logits: window(tAll) },
          inPlace: true,
        }),
      );
      expect(error.code).toBe('E_BAD_VALUE');
      expect(error.details).toMatchObject({ row: 2, value: V + 7 });
    },
  );

  gpuTest('in place: the gradient matches central differences of the GPU loss itself', async ({ device }) => {
    const rows = 2;
    const V = 6;
    const z = makeLogits(21, rows, V);
    const t = makeLogits(22, rows, V);
    const labels = Int32Array.from([3, 1]);
    const options = { temperature: 2, softWeight: 0.7, hardWeight: 0.3, divergence: 'jsd' as const, beta: 0.3 };
    const teacher = { kind: 'dense' as const, logits: upload(device, t, [rows, V], 't') };
    const labelsGpu = upload(device, labels, [rows], 'labels');
    const lossAt = async (logits: Float32Array) => {
      const result = await kdLoss({
        ...options,
        studentLogits: upload(device, logits, [rows, V], 'z'),
        teacher,
        labels: labelsGpu,
        inPlace: true,
      });
      const total = await result.total();
      const grad = await readFloat32(result.gradLogits);
      result.release();
      return { total, grad };
    };
    const { grad } = await lossAt(z);
    const h = 1e-2;
    const numeric = new Float64Array(rows * V);
    for (let i = 0; i < rows * V; i++) {
      const plus = Float32Array.from(z);
      const minus = Float32Array.from(z);
      plus[i]! += h;
      minus[i]! -= h;
      numeric[i] = ((await lossAt(plus)).total - (await lossAt(minus)).total) / (2 * h);
    }
    const scale = Math.max(...Array.from(numeric, Math.abs));
    expectClose(grad, numeric, { rtol: 1e-2, atol: 2e-3 * scale, what: 'in-place gradient vs finite differences' });
  });
});
