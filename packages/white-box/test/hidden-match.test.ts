import { expect } from 'vitest';
import { Rng } from '@distillery/core';
import { readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { hiddenMatch, hiddenMatchReference, HiddenStateMatch, hiddenStateMatchReference, type HiddenMatchLoss } from '../src/index.js';
import { hiddenMatchKernel } from '../src/kernels/hidden-match/hidden-match.wgsl.js';

function randn(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

const upload = (device: GPUDevice, data: Float32Array, shape: number[], label: string): GpuTensor =>
  uploadTensor(device, { shape, dtype: 'f32', data }, label);

/** Largest |got − want| / (atol + rtol·|want|). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i]! - want[i]!) / (atol + rtol * Math.abs(want[i]!)));
  return w;
}

const LOSSES: HiddenMatchLoss[] = ['mse', 'cosine'];

gpuDescribe('hidden-match kernel', () => {
  gpuTest('per-row MSE and cosine losses and their gradients match the float64 reference', async ({ device }) => {
    // 70 columns: more than one 64-lane stride, and not a multiple of it.
    const rows = 37;
    const width = 70;
    const predicted = randn(rows * width, 1);
    const target = randn(rows * width, 2);
    // A row where the student state equals the teacher's (loss 0) and one that is its negative (cosine 2).
    predicted.set(target.subarray(0, width), 0);
    for (let j = 0; j < width; j++) predicted[width + j] = -3 * target[width + j]!;
    for (const loss of LOSSES) {
      const scale = 0.7 / rows;
      const out = await hiddenMatch({
        predicted: upload(device, predicted, [rows, width], 'y'),
        target: upload(device, target, [rows, width], 't'),
        loss,
        scale,
      });
      const want = hiddenMatchReference(predicted, target, rows, width, loss, scale);
      const perRow = await readFloat32(out.perRow);
      expect(worst(perRow, want.perRow, 1e-6, 1e-5), loss).toBeLessThanOrEqual(1);
      expect(worst(await readFloat32(out.grad), want.grad, 1e-8, 1e-4), loss).toBeLessThanOrEqual(1);
      expect(perRow[0]).toBeCloseTo(0, 6);
      if (loss === 'cosine') expect(perRow[1]).toBeCloseTo(2, 5);
    }
  });
});

gpuDescribe('HiddenStateMatch', () => {
  for (const loss of LOSSES) {
    gpuTest(
      `${loss} with a learned projection: value and gradients (student state, projection) match float64 and finite differences`,
      async ({ device }) => {
        const rows = 9;
        const ds = 12;
        const dt = 20;
        const match = new HiddenStateMatch({
          device,
          pairs: [{ student: 'hidden.1', teacher: 'hidden.0', loss, weight: 0.6, projection: true }],
          seed: 4,
        });
        match.bind({ student: { 'hidden.0': 8, 'hidden.1': ds }, teacher: { 'hidden.0': dt } });
        const [weightParam, biasParam] = match.parameters();
        expect(weightParam!.name).toBe('hidden.1->hidden.0.projection.weight');
        // Initialisation: torch.nn.Linear's U(±1/√d_s), zero bias, seeded.
        const w = await readFloat32(weightParam!.value);
        expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(ds));
        expect(Array.from(await readFloat32(biasParam!.value))).toEqual(new Array(dt).fill(0));
        const bias = randn(dt, 9, 0.1);
        device.queue.writeBuffer(biasParam!.value.buffer, 0, bias as Float32Array<ArrayBuffer>);
        const hs = randn(rows * ds, 5);
        const ht = randn(rows * dt, 6);
        match.zeroGrad();
        const out = await match.compute({
          student: { 'hidden.1': upload(device, hs, [rows, ds], 'hs') },
          teacher: { 'hidden.0': upload(device, ht, [rows, dt], 'ht') },
          hyper: {},
        });
        const reference = (student: ArrayLike<number>, weight: ArrayLike<number>) =>
          hiddenStateMatchReference({
            student,
            teacher: ht,
            rows,
            studentWidth: ds,
            teacherWidth: dt,
            loss,
            weight: 0.6,
            projection: { weight, bias },
          });
        const want = reference(hs, w);
        const total = await out.total();
        expect(Math.abs(total - want.value)).toBeLessThan(1e-5 * Math.max(1, want.value));
        expect(await out.terms['hidden.1->hidden.0']!()).toBe(total);
        const gradStudent = await readFloat32(out.gradHidden['hidden.1']!);
        const gradWeight = await readFloat32(weightParam!.grad);
        expect(worst(gradStudent, want.gradStudent, 1e-7, 1e-4)).toBeLessThanOrEqual(1);
        expect(worst(gradWeight, want.gradWeight!, 1e-7, 1e-4)).toBeLessThanOrEqual(1);
        expect(worst(await readFloat32(biasParam!.grad), want.gradBias!, 1e-7, 1e-4)).toBeLessThanOrEqual(1);
        // Central differences of the float64 value confirm the analytic gradient itself.
        const h = 1e-6;
        for (const [x, grad, perturb] of [
          [Float64Array.from(hs), gradStudent, (v: Float64Array) => reference(v, w).value],
          [Float64Array.from(w), gradWeight, (v: Float64Array) => reference(hs, v).value],
        ] as const) {
          for (const i of [0, 7, x.length - 1]) {
            const saved = x[i]!;
            x[i] = saved + h;
            const up = perturb(x);
            x[i] = saved - h;
            const down = perturb(x);
            x[i] = saved;
            const fd = (up - down) / (2 * h);
            expect(Math.abs(fd - grad[i]!)).toBeLessThan(1e-6 + 1e-3 * Math.abs(fd));
          }
        }
      },
    );
  }

  gpuTest('without projection: identity, the teacher state gets nothing, two pairs on one student state add up', async ({ device }) => {
    const rows = 6;
    const d = 16;
    const match = new HiddenStateMatch({
      device,
      pairs: [
        { student: 'blocks.1', teacher: 'blocks.3', loss: 'mse', weight: 2 },
        { student: 'blocks.1', teacher: 'ln_f', loss: 'cosine', weight: 0.5, name: 'cos' },
      ],
    });
    match.bind({ student: { 'blocks.1': d }, teacher: { 'blocks.3': d, ln_f: d } });
    expect(match.parameters()).toEqual([]);
    expect(match.studentLayers).toEqual(['blocks.1']);
    expect(match.teacherLayers).toEqual(['blocks.3', 'ln_f']);
    expect(match.hyperDefaults).toEqual({ 'blocks.1->blocks.3:weight': 2, 'cos:weight': 0.5 });
    const hs = randn(rows * d, 1);
    const t1 = randn(rows * d, 2);
    const t2 = randn(rows * d, 3);
    const teacher1 = upload(device, t1, [rows, d], 't1');
    // A scheduled weight overrides the default.
    const out = await match.compute({
      student: { 'blocks.1': upload(device, hs, [rows, d], 'hs') },
      teacher: { 'blocks.3': teacher1, ln_f: upload(device, t2, [rows, d], 't2') },
      hyper: { 'cos:weight': 1.5 },
    });
    const a = hiddenStateMatchReference({ student: hs, teacher: t1, rows, studentWidth: d, teacherWidth: d, loss: 'mse', weight: 2 });
    const b = hiddenStateMatchReference({ student: hs, teacher: t2, rows, studentWidth: d, teacherWidth: d, loss: 'cosine', weight: 1.5 });
    expect(await out.terms['blocks.1->blocks.3']!()).toBeCloseTo(a.value, 5);
    expect(await out.terms.cos!()).toBeCloseTo(b.value, 5);
    expect(await out.total()).toBeCloseTo(a.value + b.value, 5);
    expect(Object.keys(out.gradHidden)).toEqual(['blocks.1']);
    const sum = a.gradStudent.map((g, i) => g + b.gradStudent[i]!);
    expect(worst(await readFloat32(out.gradHidden['blocks.1']!), sum, 1e-7, 1e-4)).toBeLessThanOrEqual(1);
    expect(Array.from(await readFloat32(teacher1))).toEqual(Array.from(t1));
  });

  gpuTest('bad pairs are typed errors naming the field and the value', async ({ device }) => {
    const widths = { student: { 'hidden.0': 16, 'hidden.1': 8 }, teacher: { 'hidden.0': 64 } };
    const bind = (pair: ConstructorParameters<typeof HiddenStateMatch>[0]['pairs'][number]) =>
      new HiddenStateMatch({ device, pairs: [pair] }).bind(widths);
    expect(() => bind({ student: 'hidden.2', teacher: 'hidden.0', projection: true })).toThrowError(
      'pairs[0].student is "hidden.2", which the student does not expose; its hidden states are hidden.0, hidden.1',
    );
    try {
      bind({ student: 'hidden.0', teacher: 'blocks.0', projection: true });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'pairs[0].teacher', value: 'blocks.0', known: ['hidden.0'] } });
    }
    expect(() => bind({ student: 'hidden.0', teacher: 'hidden.0' })).toThrowError(
      'pairs[0].projection is false, but student hidden.0 has width 16 and teacher hidden.0 width 64; set projection: true to learn a 16 → 64 map',
    );
    expect(() => bind({ student: 'hidden.0', teacher: 'hidden.0' })).toThrow(
      expect.objectContaining({ code: 'E_SHAPE_MISMATCH', details: expect.objectContaining({ field: 'pairs[0].projection' }) }),
    );
    expect(() => new HiddenStateMatch({ device, pairs: [{ student: 'a', teacher: 'b', loss: 'l1' as never }] })).toThrowError(
      'pairs[0].loss must be one of mse, cosine, got "l1"',
    );
    expect(() => new HiddenStateMatch({ device, pairs: [{ student: 'a', teacher: 'b', weight: -1 }] })).toThrowError(
      'pairs[0].weight must be a finite number >= 0, got -1',
    );
    expect(() => new HiddenStateMatch({ device, pairs: [] })).toThrowError(/^E_BAD_VALUE: pairs must be at least one/);
    expect(
      () =>
        new HiddenStateMatch({
          device,
          pairs: [
            { student: 'a', teacher: 'b' },
            { student: 'a', teacher: 'b' },
          ],
        }),
    ).toThrowError('pairs[1].name must be a name no other pair has, got "a->b"');
  });
});

kernelSnapshots(`${import.meta.dirname}/../src/kernels/hidden-match`, hiddenMatchKernel, [
  { loss: 'mse', workgroupSize: 64, subgroups: false },
  { loss: 'cosine', workgroupSize: 64, subgroups: true },
]);
