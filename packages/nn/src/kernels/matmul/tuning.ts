import { CommandRecorder, createTensor, isCpuDevice, type GpuTensor } from '@distillery/webgpu';
import { tileCols, tileRows, type MatmulTileConfig } from './tiled.wgsl.js';

/**
 * The workgroup-tiled configurations a device chooses from. 16×16 threads of 4×4 is the classic
 * GPU shape (64×64 tiles, 256 threads); the narrower ones suit CPU rasterisers (lavapipe,
 * SwiftShader), which run a workgroup's threads as SIMD lanes on one core and pay for every
 * barrier with a switch between those lanes.
 */
export const MATMUL_TILE_CANDIDATES: readonly MatmulTileConfig[] = [
  { wgX: 16, wgY: 16, rows: 4, colVecs: 1, bk: 16 },
  { wgX: 8, wgY: 8, rows: 4, colVecs: 2, bk: 16 },
  { wgX: 8, wgY: 4, rows: 8, colVecs: 2, bk: 32 },
  { wgX: 8, wgY: 2, rows: 8, colVecs: 2, bk: 64 },
];

/**
 * A register-tiled kernel with a tile other than the adapter kind's default: what `tuneMatmul`
 * chooses when the register tile that default replaced is faster on this device.
 */
export interface RegisterTileChoice {
  register: RegisterTile;
}

/** A device's matmul: a workgroup-tiled configuration, `false` (the register-tiled kernel, default tile) or a register tile. */
export type MatmulChoice = MatmulTileConfig | false | RegisterTileChoice;

/** What `tuneMatmul` times: a workgroup-tiled configuration, `register` (the default register tile) or another register tile. */
export type MatmulCandidate = MatmulTileConfig | 'register' | RegisterTileChoice;

/** The register tile the CPU-adapter default (16 rows × 1 vec4, A by subgroup broadcast) replaced, and GPUs' default. */
export const VEC4_REGISTER_TILE: RegisterTile = { rowsPerThread: 4, colVecs: 2, aLoad: 'vec4' };

export const isRegisterTileChoice = (choice: MatmulChoice | MatmulCandidate): choice is RegisterTileChoice =>
  typeof choice === 'object' && 'register' in choice;

/** What `tuneMatmul` chose per device. */
const chosen = new WeakMap<GPUDevice, MatmulChoice>();

/** The register-tiled kernel's default tile on an adapter kind (the tiled kernel's fields aside). */
export interface RegisterTile {
  rowsPerThread: number;
  colVecs: number;
  aLoad: 'subgroup' | 'vec4';
}

/**
 * 4 rows × 2 vec4 columns with A as vec4 (GPUs, or CPU adapters without subgroups); on CPU adapters
 * with subgroups of ≥ 8 lanes, 16 rows × 1 vec4 with A by subgroup broadcast. On lavapipe every
 * storage-buffer load is a per-lane loop with a bounds check (uniform addresses included, once
 * inside the K loop), while a subgroup broadcast is one shuffle for all lanes: with 8 lanes
 * loading 8 values of A at once, loads per k per lane drop from 4 + 8 (4×8 tile, A as vec4) to
 * 2 + 4 for four times the FMAs per B load. Measured 1.2–2× less CPU time per product
 * (512³–2,048³ and the MLP shapes); 24 and 32 rows spill too much (docs/nn.md, matmul).
 * `M` caps the rows: a workgroup computes all of them even past the last row.
 */
export function defaultRegisterTile(device: GPUDevice, M: number, subgroups: boolean): RegisterTile {
  if (!subgroups || !isCpuDevice(device)) return { ...VEC4_REGISTER_TILE };
  return { rowsPerThread: M >= 16 ? 16 : Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(1, M)))), colVecs: 1, aLoad: 'subgroup' };
}

/**
 * Before tuning: 16×16 threads of 4×4 on GPUs; the register-tiled kernel on CPU adapters, where it
 * measured 1.7–2.7× faster than the best workgroup-tiled configuration at 512³ on lavapipe
 * (staging tiles in workgroup memory buys nothing when that memory is the same cache, and each
 * barrier switches between the workgroup's SIMD batches).
 */
export function defaultTileConfig(device: GPUDevice): MatmulTileConfig | false {
  return isCpuDevice(device) ? false : MATMUL_TILE_CANDIDATES[0]!;
}

/** Makes every later `recordMatmul` on this device without an explicit tile use `choice` (`false`: the register-tiled kernel). */
export function setMatmulTile(device: GPUDevice, choice: MatmulChoice): void {
  chosen.set(device, choice);
}

/** The register tile of a matmul without an explicit tile: the tuned one, else the adapter kind's default. */
export function registerTileFor(device: GPUDevice, M: number, subgroups: boolean): RegisterTile {
  const choice = chosen.get(device);
  return choice && isRegisterTileChoice(choice) ? { ...choice.register } : defaultRegisterTile(device, M, subgroups);
}

/** `recordMatmul`'s `tile` option for a choice (benchmarks time each choice explicitly). */
export function matmulTileOption(choice: MatmulChoice): { tiled: MatmulTileConfig | false } & Partial<RegisterTile> {
  return isRegisterTileChoice(choice) ? { tiled: false, ...choice.register } : { tiled: choice };
}

/**
 * The configuration a matmul of this size uses on this device, or `false` for the register-tiled
 * kernel: narrow outputs (10 classes), few rows or a short K leave most of a tile idle.
 */
export function tiledConfigFor(device: GPUDevice, { M, N, K }: { M: number; N: number; K: number }): MatmulTileConfig | false {
  const config = chosen.has(device) ? chosen.get(device)! : defaultTileConfig(device);
  if (!config || isRegisterTileChoice(config)) return false;
  if (N < tileCols(config) / 2 || M < tileRows(config) / 2 || K < config.bk) return false;
  return config;
}

export interface MatmulTuning {
  choice: MatmulChoice;
  /** Median ms of each candidate (`register` = the register-tiled kernel with the default tile). */
  timings: Array<{ config: MatmulCandidate; ms: number }>;
}

/**
 * What `tuneMatmul` times on this device: the workgroup-tiled candidates, the register-tiled
 * kernel and, where its default tile is not the 4 × 2 vec4 one (CPU adapters with subgroups), that
 * tile too.
 */
export function matmulCandidates(device: GPUDevice, size: number, subgroups: boolean): MatmulCandidate[] {
  const candidates: MatmulCandidate[] = [...MATMUL_TILE_CANDIDATES, 'register'];
  if (!sameRegisterTile(defaultRegisterTile(device, size, subgroups), VEC4_REGISTER_TILE))
    candidates.push({ register: { ...VEC4_REGISTER_TILE } });
  return candidates;
}

/**
 * Times every candidate (`matmulCandidates`: the workgroup-tiled ones, the register-tiled kernel
 * and the register tile its CPU default replaced) on a `size³` product, round-robin, and
 * keeps the fastest for this device — unless the adapter kind's default is within `margin` (10 %) of
 * it — so later `recordMatmul` calls without an explicit tile use it.
 * Call once after acquiring a device (benchmarks, long training runs); the result is cached.
 */
export async function tuneMatmul(
  device: GPUDevice,
  { size = 512, runs = 3, margin = 0.1 }: { size?: number; runs?: number; margin?: number } = {},
): Promise<MatmulTuning> {
  // Imported here, not at the top: matmul.ts imports this module for tiledConfigFor.
  const { recordMatmul, subgroupsUsable } = await import('./matmul.js');
  const a = createTensor(device, { shape: [size, size], dtype: 'f32', label: 'tune-A' });
  const b = createTensor(device, { shape: [size, size], dtype: 'f32', label: 'tune-B' });
  const c = createTensor(device, { shape: [size, size], dtype: 'f32', label: 'tune-C' });
  const options = matmulCandidates(device, size, subgroupsUsable(device));
  const once = async (option: MatmulCandidate) => {
    const recorder = new CommandRecorder(device, 'matmul-tune');
    recordMatmul(recorder, a, b, c, { tile: matmulTileOption(toChoice(option)) });
    const start = performance.now();
    await recorder.submit();
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  const samples = options.map(() => [] as number[]);
  try {
    for (const option of options) await once(option); // compiles
    for (let i = 0; i < runs; i++) for (const [j, option] of options.entries()) samples[j]!.push(await once(option));
  } finally {
    release(a, b, c);
  }
  const timings = options.map((config, j) => ({ config, ms: median(samples[j]!) }));
  const choice = chooseMatmulTile(timings, defaultTileConfig(device), margin);
  setMatmulTile(device, choice);
  return { choice, timings };
}

/**
 * The fastest candidate, unless the adapter kind's default is within `margin` of it: a few timed
 * calls on a busy machine swing by tens of percent, and a noisy win must not swap in a kernel
 * that is slower at the sizes that matter (on lavapipe a single sample at 512³ once chose a
 * workgroup-tiled kernel that is 0.7× the register-tiled one at 1,024³).
 */
export function chooseMatmulTile(
  timings: ReadonlyArray<{ config: MatmulCandidate; ms: number }>,
  incumbent: MatmulChoice,
  margin = 0.1,
): MatmulChoice {
  const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x));
  const incumbentTiming = timings.find((t) => sameChoice(toChoice(t.config), incumbent));
  if (incumbentTiming && best.ms > incumbentTiming.ms * (1 - margin)) return incumbent;
  return toChoice(best.config);
}

const toChoice = (config: MatmulCandidate): MatmulChoice => (config === 'register' ? false : config);

function sameChoice(a: MatmulChoice, b: MatmulChoice): boolean {
  if (a === false || b === false) return a === b;
  if (isRegisterTileChoice(a) || isRegisterTileChoice(b))
    return isRegisterTileChoice(a) && isRegisterTileChoice(b) && sameRegisterTile(a.register, b.register);
  return a.wgX === b.wgX && a.wgY === b.wgY && a.rows === b.rows && a.colVecs === b.colVecs && a.bk === b.bk;
}

function sameRegisterTile(a: RegisterTile, b: RegisterTile): boolean {
  return a.rowsPerThread === b.rowsPerThread && a.colVecs === b.colVecs && a.aLoad === b.aLoad;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function release(...tensors: GpuTensor[]): void {
  for (const t of tensors) t.release();
}
