import { CommandRecorder, createTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest, kernelSnapshots } from '@distillery/webgpu/testing';
import { describe, expect, it } from 'vitest';
import { randn, read, upload, worstRatio } from '../../../test/helpers.js';
import type { Activation } from '../activation-math.js';
import { recordMatmul, subgroupsUsable, type DropoutSpec, type MatmulDims } from './matmul.js';
import { matmulReference } from './reference.js';
import { tiledMatmulKernel, type MatmulTileConfig, type TiledMatmulVariant } from './tiled.wgsl.js';
import {
  chooseMatmulTile,
  defaultTileConfig,
  isRegisterTileChoice,
  MATMUL_TILE_CANDIDATES,
  matmulCandidates,
  matmulTileOption,
  registerTileFor,
  setMatmulTile,
  tiledConfigFor,
  tuneMatmul,
  VEC4_REGISTER_TILE,
} from './tuning.js';

const EPS32 = 2 ** -24;
/** A small tile (8 × 16, K by 8) so that small odd shapes cross several tiles in every direction and in K. */
const SMALL: MatmulTileConfig = { wgX: 4, wgY: 2, rows: 4, colVecs: 1, bk: 8 };

interface Epilogue {
  bias?: boolean;
  activation?: Activation;
  pre?: boolean;
  dropout?: DropoutSpec;
  accumulate?: boolean;
}

async function check(
  device: GPUDevice,
  shape: MatmulDims,
  transA: boolean,
  transB: boolean,
  epilogue: Epilogue,
  seed: number,
  /** `device`: no tile option (the device's tuned choice). */
  tiled: MatmulTileConfig | 'device' = SMALL,
) {
  const { batch, M, N, K } = shape;
  const a = randn(batch * M * K, seed);
  const b = randn(batch * K * N, seed + 1);
  const batched = (s: number[]) => (batch === 1 ? s : [batch, ...s]);
  const A = upload(device, a, batched(transA ? [K, M] : [M, K]), 'A');
  const B = upload(device, b, batched(transB ? [N, K] : [K, N]), 'B');
  const c0 = epilogue.accumulate ? randn(batch * M * N, seed + 2) : undefined;
  const C = c0 ? upload(device, c0, batched([M, N]), 'C') : createTensor(device, { shape: batched([M, N]), dtype: 'f32', label: 'C' });
  const bias = epilogue.bias ? randn(N, seed + 3) : undefined;
  const biasT = bias && upload(device, bias, [N], 'bias');
  const pre = epilogue.pre ? createTensor(device, { shape: batched([M, N]), dtype: 'f32', label: 'pre' }) : undefined;
  const recorder = new CommandRecorder(device, 'tiled-test');
  recordMatmul(recorder, A, B, C, {
    transA,
    transB,
    bias: biasT,
    activation: epilogue.activation,
    pre,
    dropout: epilogue.dropout,
    accumulate: epilogue.accumulate,
    ...(tiled === 'device' ? {} : { tile: { tiled } }),
  });
  await recorder.submit();
  const ref = matmulReference(a, b, shape, {
    transA,
    transB,
    bias,
    activation: epilogue.activation,
    dropout: epilogue.dropout,
    accumulate: c0,
  });
  const tolPre = (j: number) => (K + 4) * EPS32 * (ref.absSum[j]! + Math.abs(bias?.[j % N] ?? 0) + Math.abs(c0?.[j] ?? 0)) + 1e-30;
  const scale = epilogue.dropout ? 1 / (1 - epilogue.dropout.p) : 1;
  const got = await read(C);
  const r = worstRatio(
    got,
    ref.out,
    (j) => scale * (1.2 * tolPre(j) + (epilogue.activation === 'gelu' ? 4e-6 * (1 + Math.abs(ref.pre[j]!)) : 0)),
  );
  const label = `${JSON.stringify({ shape, transA, transB, epilogue })} worst at ${r.index}: got ${got[r.index]} want ${ref.out[r.index]}`;
  expect(r.ratio, label).toBeLessThanOrEqual(1);
  if (pre) expect(worstRatio(await read(pre), ref.pre, tolPre).ratio, `pre of ${label}`).toBeLessThanOrEqual(1);
  if (epilogue.dropout) expect(ref.out.filter((v, j) => v === 0 && ref.pre[j] !== 0).length / ref.out.length).toBeGreaterThan(0.15);
  for (const t of [A, B, C, biasT, pre]) t?.release();
}

const ODD: MatmulDims = { batch: 1, M: 13, N: 22, K: 19 };
const ALIGNED: MatmulDims = { batch: 2, M: 20, N: 36, K: 24 };

gpuDescribe('workgroup-tiled matmul', () => {
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    gpuTest(
      `transA=${transA} transB=${transB}: matches the float64 reference on odd (scalar loads) and aligned batched (vec4 loads) shapes`,
      async ({ device }) => {
        await check(device, ODD, transA, transB, {}, 10);
        await check(device, ALIGNED, transA, transB, {}, 20);
      },
    );
  }

  gpuTest('fused epilogues: bias + relu + pre, bias + gelu + pre + dropout (Bᵀ), dropout alone, accumulate (Aᵀ)', async ({ device }) => {
    await check(device, ALIGNED, false, false, { bias: true, activation: 'relu', pre: true }, 30);
    await check(device, ODD, false, true, { bias: true, activation: 'gelu', pre: true, dropout: { p: 0.3, seed: 77, step: 5 } }, 40);
    await check(device, ALIGNED, false, false, { dropout: { p: 0.25, seed: 9, step: 1 } }, 50);
    await check(device, ODD, true, false, { accumulate: true }, 60);
    await check(device, ALIGNED, true, true, { accumulate: true }, 70);
  });

  gpuTest('a tuned device keeps its choice; narrow outputs stay on the register-tiled kernel', async ({ device }) => {
    const tuning = await tuneMatmul(device, { size: 64, runs: 1 });
    expect(tuning.timings.length).toBeGreaterThan(1);
    for (const t of tuning.timings) expect(t.ms).toBeGreaterThan(0);
    expect(tuning.timings.map((t) => t.config)).toEqual(matmulCandidates(device, 64, subgroupsUsable(device)));
    expect(tuning.choice).toEqual(chooseMatmulTile(tuning.timings, defaultTileConfig(device)));
    const tiled = tuning.choice && !isRegisterTileChoice(tuning.choice) ? tuning.choice : false;
    expect(tiledConfigFor(device, { M: 512, N: 512, K: 512 })).toEqual(tiled);
    expect(tiledConfigFor(device, { M: 512, N: 10, K: 512 })).toBe(false);
    await check(device, { batch: 1, M: 70, N: 68, K: 33 }, false, true, { bias: true }, 80, tiled || SMALL);
    await check(device, { batch: 1, M: 70, N: 68, K: 33 }, false, true, { bias: true }, 81, 'device');
  });

  gpuTest('a tuned register tile: the device computes with it until tuned again', async ({ device }) => {
    const old4x2 = { register: VEC4_REGISTER_TILE };
    setMatmulTile(device, old4x2);
    try {
      expect(registerTileFor(device, 64, true)).toEqual(VEC4_REGISTER_TILE);
      expect(tiledConfigFor(device, { M: 512, N: 512, K: 512 })).toBe(false);
      await check(device, { batch: 1, M: 70, N: 68, K: 36 }, false, false, { bias: true, activation: 'relu' }, 90, 'device');
    } finally {
      setMatmulTile(device, defaultTileConfig(device));
    }
  });
});

describe('chooseMatmulTile', () => {
  const [wide, narrow] = MATMUL_TILE_CANDIDATES as [MatmulTileConfig, MatmulTileConfig];
  it('keeps the default unless a candidate beats it by more than the margin', () => {
    const timings = [
      { config: wide, ms: 95 },
      { config: 'register' as const, ms: 100 },
    ];
    expect(chooseMatmulTile(timings, false)).toBe(false);
    expect(chooseMatmulTile(timings, false, 0.04)).toEqual(wide);
    expect(chooseMatmulTile([{ config: wide, ms: 80 }, ...timings.slice(1)], false)).toEqual(wide);
  });
  it('moves off a tiled default to the register-tiled kernel or another tile when they are clearly faster', () => {
    expect(
      chooseMatmulTile(
        [
          { config: wide, ms: 100 },
          { config: 'register', ms: 50 },
        ],
        wide,
      ),
    ).toBe(false);
    expect(
      chooseMatmulTile(
        [
          { config: wide, ms: 100 },
          { config: narrow, ms: 95 },
        ],
        wide,
      ),
    ).toEqual(wide);
    expect(
      chooseMatmulTile(
        [
          { config: wide, ms: 100 },
          { config: narrow, ms: 60 },
        ],
        wide,
      ),
    ).toEqual(narrow);
  });
  it('times the register tile the CPU default replaced as a candidate, and keeps the default unless it is clearly faster', () => {
    const old4x2 = { register: VEC4_REGISTER_TILE };
    const withOld = [
      { config: wide, ms: 140 },
      { config: 'register' as const, ms: 100 },
      { config: old4x2, ms: 92 },
    ];
    expect(chooseMatmulTile(withOld, false)).toBe(false);
    expect(chooseMatmulTile([...withOld.slice(0, 2), { config: old4x2, ms: 85 }], false)).toEqual(old4x2);
    // A device already on the old tile stays there unless the default beats it by the margin too.
    expect(chooseMatmulTile([...withOld.slice(0, 2), { config: old4x2, ms: 105 }], old4x2)).toEqual(old4x2);
    expect(chooseMatmulTile([...withOld.slice(0, 2), { config: old4x2, ms: 120 }], old4x2)).toBe(false);
    // The candidates: only where the default register tile is another one (CPU adapters with subgroups).
    const adapter = (device: string) =>
      ({ adapterInfo: { vendor: 'x', architecture: '', device, description: '' } }) as unknown as GPUDevice;
    const cpu = adapter('llvmpipe (LLVM 15.0.7, 256 bits)');
    expect(matmulCandidates(cpu, 512, true)).toEqual([...MATMUL_TILE_CANDIDATES, 'register', old4x2]);
    expect(matmulCandidates(cpu, 512, false)).toEqual([...MATMUL_TILE_CANDIDATES, 'register']);
    expect(matmulCandidates(adapter('NVIDIA H100'), 512, true)).toEqual([...MATMUL_TILE_CANDIDATES, 'register']);
    expect(matmulTileOption(old4x2)).toEqual({ tiled: false, rowsPerThread: 4, colVecs: 2, aLoad: 'vec4' });
    expect(matmulTileOption(wide)).toEqual({ tiled: wide });
  });
  it('takes the fastest when the default was not timed', () => {
    expect(
      chooseMatmulTile(
        [
          { config: narrow, ms: 60 },
          { config: 'register', ms: 59 },
        ],
        wide,
      ),
    ).toBe(false);
  });
});

const BASE: TiledMatmulVariant = {
  ...SMALL,
  transA: false,
  transB: false,
  vecA: true,
  vecB: true,
  vecC: true,
  bias: false,
  activation: 'none',
  storePre: false,
  dropout: false,
  accumulate: false,
};
kernelSnapshots(import.meta.dirname, tiledMatmulKernel, [
  BASE,
  { ...BASE, wgX: 16, wgY: 4, colVecs: 2, bk: 32 },
  { ...BASE, transB: true, vecA: false, vecB: false, vecC: false, bias: true, activation: 'gelu', storePre: true, dropout: true },
  { ...BASE, transA: true, accumulate: true },
]);
