import { badValue, DistilleryError, requireInteger, shapeMismatch } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, type GpuTensor } from '@distillery/webgpu';
import { nextPow2, requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import type { Activation } from '../activation-math.js';
import { defaultRegisterTile, registerTileFor, tiledConfigFor } from './tuning.js';
import { tileCols, tileRows, tiledMatmulKernel, type MatmulTileConfig, type TiledMatmulVariant } from './tiled.wgsl.js';
import { matmulKernel, type MatmulALoad, type MatmulVariant } from './matmul.wgsl.js';

export const matmulProgram = matmulKernel;

export interface DropoutSpec {
  /** Probability of zeroing an element, in [0, 1). */
  p: number;
  /** Stream seed (u32) and step counter (u32): the mask is a function of (seed, step, index). */
  seed: number;
  step: number;
}

export interface MatmulOptions {
  /** A is stored transposed, `[K, M]`. */
  transA?: boolean;
  /** B is stored transposed, `[N, K]` (a PyTorch `Linear` weight `[out, in]`). */
  transB?: boolean;
  /** `[N]` added to every row. */
  bias?: GpuTensor;
  activation?: Activation;
  /** Receives `A·B + bias` before the activation, shaped like C. */
  pre?: GpuTensor;
  /** Inverted dropout on the output (after the activation). */
  dropout?: DropoutSpec;
  /** C ← C + A·B (no bias, activation or dropout). */
  accumulate?: boolean;
  /** Override the tile (benchmarks and tests); the defaults suit lavapipe and GPUs. */
  tile?: MatmulTile;
}

export interface MatmulTile {
  workgroupSize?: number;
  /** Rows per thread; default from `defaultRegisterTile` (16 on CPU adapters with subgroups, else 4), or 4 when the tile sets any of these three. */
  rowsPerThread?: number;
  /** vec4 column groups per thread; default from `defaultRegisterTile` (1 on CPU adapters with subgroups, else 2), or 2 as above. */
  colVecs?: number;
  /**
   * Preferred A strategy (default from `defaultRegisterTile`: `subgroup` on CPU adapters with subgroups, else `vec4`);
   * falls back (subgroup → vec4 → scalar) when shapes or device do not allow it.
   */
  aLoad?: MatmulALoad;
  /**
   * The workgroup-tiled kernel with this configuration, or `false` for the register-tiled one
   * (the fields above). Default: the adapter's choice (`tuneMatmul`, else a per-kind default) for
   * shapes large enough to fill a tile.
   */
  tiled?: MatmulTileConfig | false;
}

export interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
}

function split(t: GpuTensor): [number, number, number] {
  if (t.shape.length === 2) return [1, t.shape[0]!, t.shape[1]!];
  if (t.shape.length === 3) return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
  throw shapeMismatch(t.label, t.shape, 'a matrix [rows, cols] or a batch [batch, rows, cols]');
}

/** Validates operands and returns the problem size. */
export function matmulDims(a: GpuTensor, b: GpuTensor, options: Pick<MatmulOptions, 'transA' | 'transB'> = {}): MatmulDims {
  requireDtype(a);
  requireDtype(b);
  requireSameDevice(a, b);
  const [batchA, a0, a1] = split(a);
  const [batchB, b0, b1] = split(b);
  const [M, K] = options.transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = options.transB ? [b1, b0] : [b0, b1];
  if (K !== Kb) {
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `matmul: ${a.label} [${a.shape.join(', ')}]${options.transA ? 'ᵀ' : ''} · ${b.label} [${b.shape.join(', ')}]${options.transB ? 'ᵀ' : ''} disagree on the inner dimension (${K} vs ${Kb})`,
      {
        field: b.label,
        value: [...b.shape],
      },
    );
  }
  if (batchA !== batchB) throw shapeMismatch(b.label, b.shape, `batch ${batchA} like ${a.label}`);
  return { batch: batchA, M, N, K };
}

// The register tile per adapter kind: `defaultRegisterTile` (tuning.ts). In workgroups of 16 threads
// (128 columns of B per workgroup stay in L2: +10% at 2048³ over 32).
const MAX_WORKGROUP = 16;

/** Subgroup strategies need subgroups of at least 8 lanes (lavapipe: 8, GPUs: 16–64). */
export function subgroupsUsable(device: GPUDevice): boolean {
  if (!device.features.has('subgroups')) return false;
  const info = (device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  return (info?.subgroupMinSize ?? 0) >= 8;
}

function chooseALoad(device: GPUDevice, wanted: MatmulALoad, transA: boolean, M: number, K: number, rowsPerThread: number): MatmulALoad {
  const vecOk = transA ? M % 4 === 0 && rowsPerThread % 4 === 0 : K % 4 === 0;
  const order: MatmulALoad[] = ['subgroup', 'vec4', 'scalar'];
  for (const option of order.slice(order.indexOf(wanted))) {
    if (option === 'vec4' && !vecOk) continue;
    if (option === 'subgroup' && !subgroupsUsable(device)) continue;
    return option;
  }
  return 'scalar';
}

/** Records C = op(A)·op(B) (+ bias → activation → dropout) into `recorder`. */
export function recordMatmul(recorder: CommandRecorder, a: GpuTensor, b: GpuTensor, c: GpuTensor, options: MatmulOptions = {}): void {
  const { batch, M, N, K } = matmulDims(a, b, options);
  requireDtype(c);
  requireSameDevice(a, c);
  requireShape(c, batch === 1 && a.shape.length === 2 ? [M, N] : [batch, M, N]);
  const activation = options.activation ?? 'none';
  if (options.accumulate && (options.bias || activation !== 'none' || options.dropout || options.pre)) {
    throw badValue('matmul.accumulate', true, 'used without bias, activation, dropout or pre');
  }
  if (options.bias) {
    requireDtype(options.bias);
    requireShape(options.bias, [N]);
  }
  if (options.pre) {
    requireDtype(options.pre);
    requireShape(options.pre, c.shape);
  }
  const dropout = options.dropout && options.dropout.p > 0 ? options.dropout : undefined;
  if (options.dropout) {
    const { p, seed, step } = options.dropout;
    if (!(p >= 0 && p < 1)) throw badValue('dropout.p', p, 'a number in [0, 1)');
    requireInteger('dropout.seed', seed, 0, 0xffffffff);
    requireInteger('dropout.step', step, 0, 0xffffffff);
  }
  if (M === 0 || N === 0 || batch === 0) return;
  for (const t of [a, b, c, options.bias, options.pre]) if (t) checkBindingSize(recorder.device, t.label, t.byteLength);

  const tiled =
    options.tile?.tiled ??
    (options.tile?.rowsPerThread || options.tile?.colVecs || options.tile?.workgroupSize || options.tile?.aLoad
      ? false
      : tiledConfigFor(recorder.device, { M, N, K }));
  if (tiled) {
    const transA = Boolean(options.transA);
    const transB = Boolean(options.transB);
    const p = dropout?.p ?? 0;
    const variant: TiledMatmulVariant = {
      ...tiled,
      transA,
      transB,
      vecA: transA ? M % 4 === 0 : K % 4 === 0,
      vecB: transB ? K % 4 === 0 : N % 4 === 0,
      vecC: N % 4 === 0,
      bias: Boolean(options.bias),
      activation,
      storePre: Boolean(options.pre),
      dropout: Boolean(dropout),
      accumulate: Boolean(options.accumulate),
    };
    tiledMatmulKernel.record(recorder, variant, {
      bindings: { A: a, B: b, C: c, bias: options.bias, pre: options.pre },
      uniforms: {
        M,
        N,
        K,
        stride_a: M * K,
        stride_b: K * N,
        stride_c: M * N,
        seed: dropout?.seed ?? 0,
        step: dropout?.step ?? 0,
        p,
        keep_scale: 1 / (1 - p),
      },
      // Row blocks vary fastest: consecutive workgroups reuse the same columns of B from cache.
      workgroups: [Math.ceil(M / tileRows(tiled)), Math.ceil(N / tileCols(tiled)), batch],
      label: `matmul ${a.label}·${b.label}`,
    });
    return;
  }
  // An explicit tile keeps the original defaults for the fields it leaves out.
  const explicit = Boolean(options.tile?.rowsPerThread || options.tile?.colVecs || options.tile?.aLoad);
  const fallback = explicit
    ? defaultRegisterTile(recorder.device, M, false)
    : registerTileFor(recorder.device, M, subgroupsUsable(recorder.device));
  const rowsPerThread = options.tile?.rowsPerThread ?? fallback.rowsPerThread;
  const colVecs = options.tile?.colVecs ?? fallback.colVecs;
  // Narrow outputs (10 classes) get narrow workgroups: idle lanes still cost on a CPU rasteriser.
  const workgroupSize = options.tile?.workgroupSize ?? Math.min(MAX_WORKGROUP, Math.max(8, nextPow2(Math.ceil(N / (4 * colVecs)))));
  const transA = Boolean(options.transA);
  const aLoad = chooseALoad(recorder.device, options.tile?.aLoad ?? fallback.aLoad, transA, M, K, rowsPerThread);
  const variant: MatmulVariant = {
    transA,
    transB: Boolean(options.transB),
    vecB: options.transB ? K % 4 === 0 : N % 4 === 0,
    vecC: N % 4 === 0,
    bias: Boolean(options.bias),
    activation,
    storePre: Boolean(options.pre),
    dropout: Boolean(dropout),
    accumulate: Boolean(options.accumulate),
    workgroupSize,
    rowsPerThread,
    colVecs,
    aLoad,
  };
  const p = dropout?.p ?? 0;
  matmulKernel.record(recorder, variant, {
    bindings: { A: a, B: b, C: c, bias: options.bias, pre: options.pre },
    uniforms: {
      M,
      N,
      K,
      stride_a: M * K,
      stride_b: K * N,
      stride_c: M * N,
      seed: dropout?.seed ?? 0,
      step: dropout?.step ?? 0,
      p,
      keep_scale: 1 / (1 - p),
    },
    // Row blocks vary fastest, so consecutive workgroups (run back to back by a CPU rasteriser)
    // reuse the same columns of B from cache.
    workgroups: [Math.ceil(M / rowsPerThread), Math.ceil(N / (4 * workgroupSize * colVecs)), batch],
    label: `matmul ${a.label}·${b.label}`,
  });
}

/** C = op(A)·op(B) (+ epilogue) into a new tensor, submitted. */
export async function matmul(a: GpuTensor, b: GpuTensor, options: MatmulOptions = {}): Promise<GpuTensor> {
  const { batch, M, N } = matmulDims(a, b, options);
  const c = createTensor(a.device, { shape: a.shape.length === 3 ? [batch, M, N] : [M, N], dtype: 'f32', label: `${a.label}·${b.label}` });
  const recorder = new CommandRecorder(a.device, 'matmul');
  recordMatmul(recorder, a, b, c, options);
  await recorder.submit();
  return c;
}
