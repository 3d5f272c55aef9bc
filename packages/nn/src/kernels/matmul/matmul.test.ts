import { CommandRecorder, createTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { describe, expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, read, sampleIndices, upload, worstRatio } from '../../../test/helpers.js';
import type { Activation } from '../activation-math.js';
import { matmul, recordMatmul, type DropoutSpec, type MatmulTile } from './matmul.js';
import { matmulReference } from './reference.js';
import { matmulKernel } from './matmul.wgsl.js';

const EPS32 = 2 ** -24;

interface Case {
  batch: number;
  M: number;
  N: number;
  K: number;
}

const SHAPES: Case[] = [
  { batch: 1, M: 1, N: 1, K: 1 },
  { batch: 1, M: 5, N: 7, K: 9 },
  { batch: 1, M: 33, N: 64, K: 48 },
  { batch: 1, M: 17, N: 10, K: 30 },
  { batch: 3, M: 6, N: 12, K: 8 },
  { batch: 1, M: 12, N: 20, K: 70 },
];

/**
 * Tiles and A strategies beyond the adapter's default (each falls back where shapes do not allow
 * it). `{}` is 16 rows × 1 vec4 with A by subgroup broadcast on lavapipe; `{ aLoad: 'vec4' }` is
 * the GPU default (4 rows × 2 vec4).
 */
const TILES: MatmulTile[] = [
  {},
  { aLoad: 'vec4' },
  { aLoad: 'subgroup', colVecs: 1 },
  { aLoad: 'vec4', rowsPerThread: 8, colVecs: 1 },
  { aLoad: 'scalar', rowsPerThread: 3, colVecs: 3, workgroupSize: 8 },
];

function operands(device: GPUDevice, { batch, M, N, K }: Case, transA: boolean, transB: boolean, seed: number) {
  const a = randn(batch * M * K, seed);
  const b = randn(batch * K * N, seed + 1);
  const shapeA = transA ? [K, M] : [M, K];
  const shapeB = transB ? [N, K] : [K, N];
  const batched = (s: number[]) => (batch === 1 ? s : [batch, ...s]);
  return { a, b, A: upload(device, a, batched(shapeA), 'A'), B: upload(device, b, batched(shapeB), 'B') };
}

gpuDescribe('matmul kernel', () => {
  describe.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('transA=%s transB=%s', (transA, transB) => {
    gpuTest('matches the float64 reference to f32 rounding on odd, aligned and batched shapes, every A strategy', async ({ device }) => {
      // The A strategies differ only in how A is read: the default tile meets every shape, the
      // others an aligned and an odd one, with and without Aᵀ.
      // Every distinct variant costs a shader compile (seconds on lavapipe), so the other tiles run
      // on plain A·B and Aᵀ·B only, and Aᵀ·Bᵀ (no caller) on two shapes.
      const tiles = transB ? [TILES[0]!] : TILES;
      for (const tile of tiles) {
        for (const [i, shape] of SHAPES.entries()) {
          if (tile !== TILES[0] && i !== 1 && i !== 5) continue;
          if (tile !== TILES[0] && transA && tile !== TILES[1] && tile !== TILES[3]) continue;
          if (transA && transB && i > 2) continue;
          const { a, b, A, B } = operands(device, shape, transA, transB, 100 + i);
          const C = await matmul(A, B, { transA, transB, tile });
          const got = await read(C);
          const { out, absSum } = matmulReference(a, b, shape, { transA, transB });
          const { ratio, index } = worstRatio(got, out, (j) => (shape.K + 2) * EPS32 * absSum[j]! + 1e-30);
          expect(
            ratio,
            `${JSON.stringify(tile)} ${JSON.stringify(shape)} worst at ${index}: got ${got[index]} want ${out[index]}`,
          ).toBeLessThanOrEqual(1);
          for (const t of [A, B, C]) t.release();
        }
      }
    });
  });

  describe.each<[Activation, boolean, number[]]>([
    ['none', false, [2]],
    ['relu', false, [3]],
    ['gelu', false, [2]],
    ['relu', true, [3]],
    ['gelu', true, [2, 4]],
  ])('fused epilogue: bias + %s, dropout %s', (activation, withDropout, shapes) => {
    gpuTest('matches the reference, pre-activation included', async ({ device }) => {
      // Aligned (vec4 stores), odd with Bᵀ (scalar stores), batched (dropout indices across the batch).
      for (const [i, shape] of shapes.map((j) => SHAPES[j]!).entries()) {
        const transB = shape.N % 4 !== 0;
        const { a, b, A, B } = operands(device, shape, false, transB, 200 + i);
        const bias = randn(shape.N, 300 + i);
        const dropout: DropoutSpec | undefined = withDropout ? { p: 0.3, seed: 1234 + i, step: 7 } : undefined;
        const outShape = shape.batch === 1 ? [shape.M, shape.N] : [shape.batch, shape.M, shape.N];
        const C = createTensor(device, { shape: outShape, dtype: 'f32', label: 'C' });
        const pre = createTensor(device, { shape: outShape, dtype: 'f32', label: 'pre' });
        const biasT = upload(device, bias, [shape.N], 'bias');
        const recorder = new CommandRecorder(device);
        recordMatmul(recorder, A, B, C, { transB, bias: biasT, activation, pre, dropout });
        await recorder.submit();
        const ref = matmulReference(a, b, shape, { transB, bias, activation, dropout });
        const tolPre = (j: number) => (shape.K + 4) * EPS32 * (ref.absSum[j]! + Math.abs(bias[j % shape.N]!)) + 1e-30;
        const gotPre = await read(pre);
        expect(worstRatio(gotPre, ref.pre, tolPre).ratio).toBeLessThanOrEqual(1);
        const gotOut = await read(C);
        const scale = withDropout ? 1 / 0.7 : 1;
        const r = worstRatio(gotOut, ref.out, (j) => scale * (1.2 * tolPre(j) + 4e-6 * (1 + Math.abs(ref.pre[j]!))));
        expect(r.ratio, `worst at ${r.index}: got ${gotOut[r.index]} want ${ref.out[r.index]}`).toBeLessThanOrEqual(1);
        if (withDropout) {
          const dropped = ref.out.filter((v, j) => v === 0 && ref.pre[j] !== 0).length;
          expect(dropped / ref.out.length).toBeGreaterThan(0.15);
        }
        for (const t of [A, B, C, pre, biasT]) t.release();
      }
    });
  });

  gpuTest('accumulate adds onto C', async ({ device }) => {
    const shape = { batch: 1, M: 13, N: 22, K: 17 };
    const { a, b, A, B } = operands(device, shape, true, false, 400);
    const c0 = randn(shape.M * shape.N, 401);
    const C = upload(device, c0, [shape.M, shape.N], 'C');
    const recorder = new CommandRecorder(device);
    recordMatmul(recorder, A, B, C, { transA: true, accumulate: true });
    await recorder.submit();
    const ref = matmulReference(a, b, shape, { transA: true, accumulate: c0 });
    expect(
      worstRatio(await read(C), ref.out, (j) => (shape.K + 4) * EPS32 * (ref.absSum[j]! + Math.abs(c0[j]!)) + 1e-30).ratio,
    ).toBeLessThanOrEqual(1);
  });

  gpuTest('finite differences of Σ R⊙(X·Wᵀ + b) agree with the NN/TN/column-sum gradients', async ({ device }) => {
    // The Linear layer's backward: dX = dY·W (NN), dW = dYᵀ·X (TN), checked against f32 finite differences.
    const rows = 6;
    const inF = 9;
    const outF = 5;
    const x = randn(rows * inF, 500);
    const w = randn(outF * inF, 501);
    const r = randn(rows * outF, 502);
    const R = upload(device, r, [rows, outF], 'R');
    const loss = async () => {
      const X = upload(device, x, [rows, inF], 'X');
      const W = upload(device, w, [outF, inF], 'W');
      const Y = await matmul(X, W, { transB: true });
      const value = probe(await read(Y), r);
      for (const t of [X, W, Y]) t.release();
      return value;
    };
    const X = upload(device, x, [rows, inF], 'X');
    const W = upload(device, w, [outF, inF], 'W');
    const dX = await read(await matmul(R, W));
    const dW = await read(await matmul(R, X, { transA: true }));
    for (const [param, grad] of [
      [x, dX],
      [w, dW],
    ] as const) {
      const check = await finiteDifferenceCheck({
        x: param,
        grad,
        loss,
        indices: sampleIndices(param.length, 12, 7),
        eps: 1e-2,
        atol: 1e-3,
        rtol: 1e-3,
      });
      expect(check.worst, check.details.join('\n')).toBeLessThanOrEqual(1);
    }
  });

  gpuTest('rejects mismatched inner dimensions and accumulate with an epilogue', async ({ device }) => {
    const A = upload(device, new Float32Array(6), [2, 3], 'A');
    const B = upload(device, new Float32Array(8), [4, 2], 'B');
    await expect(matmul(A, B)).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
    const B2 = upload(device, new Float32Array(6), [3, 2], 'B2');
    const C = createTensor(device, { shape: [2, 2], dtype: 'f32', label: 'C' });
    expect(() => recordMatmul(new CommandRecorder(device), A, B2, C, { accumulate: true, activation: 'relu' })).toThrowError(/accumulate/);
  });
});

const BASE = {
  transA: false,
  transB: false,
  vecB: true,
  vecC: true,
  bias: false,
  activation: 'none',
  storePre: false,
  dropout: false,
  accumulate: false,
  workgroupSize: 16,
  rowsPerThread: 4,
  colVecs: 2,
  aLoad: 'vec4',
} as const;
kernelSnapshots(import.meta.dirname, matmulKernel, [
  BASE,
  { ...BASE, transB: true, bias: true, activation: 'gelu', storePre: true, dropout: true },
  { ...BASE, transA: true, vecB: false, vecC: false, accumulate: true, aLoad: 'scalar', workgroupSize: 8 },
  { ...BASE, transA: true, aLoad: 'vec4' },
  { ...BASE, aLoad: 'subgroup', activation: 'relu', bias: true },
  { ...BASE, transA: true, accumulate: true, aLoad: 'subgroup', rowsPerThread: 16, colVecs: 1 },
]);
