import { CommandRecorder, createTensor, linearGrid, readBuffer, type GpuTensor, type KernelProgram } from '@distillery/webgpu';
import type { MsStats } from '../suite.js';

interface FillVariant {
  dtype: 'f32' | 'f16';
}

/** Pseudo-normal logits (sum of four hashed uniforms) written on the GPU: no host copy of 2 GB batches. */
const fillProgram: KernelProgram<FillVariant> = {
  name: 'bench-fill-logits',
  cacheKey: (v) => v.dtype,
  requiredFeatures: (v) => (v.dtype === 'f16' ? (['shader-f16'] as GPUFeatureName[]) : []),
  wgsl: ({ dtype }) => `${dtype === 'f16' ? 'enable f16;' : ''}
struct Params { count: u32, seed: u32, scale: f32, offset: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<${dtype}>;
fn hash(x: u32) -> u32 {
  var h = x * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  return (h >> 22u) ^ h;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.count) { return; }
  let g = params.offset + i;
  var s = 0.0;
  for (var k = 0u; k < 4u; k++) { s += f32(hash(g * 4u + k + params.seed * 0x9e3779b9u) & 0xffffffu) / 16777216.0; }
  out[i] = ${dtype}((s - 2.0) * 1.7320508 * params.scale);
}
`,
};

/** A [rows, vocab] tensor of N(0, scale²)-like logits filled on the GPU. */
export async function gpuLogits(
  device: GPUDevice,
  rows: number,
  vocab: number,
  dtype: 'f32' | 'f16',
  seed: number,
  scale = 3,
  label = 'logits',
): Promise<GpuTensor> {
  const tensor = createTensor(device, { shape: [rows, vocab], dtype, label });
  const count = rows * vocab;
  const recorder = new CommandRecorder(device, 'bench-fill');
  // Windows of at most 2^25 elements (128 MiB of f32): every binding stays under the default limit.
  const perDispatch = 1 << 25;
  const bytes = dtype === 'f16' ? 2 : 4;
  for (let offset = 0; offset < count; offset += perDispatch) {
    const n = Math.min(perDispatch, count - offset);
    const byteOffset = offset * bytes;
    const size = Math.ceil((n * bytes) / 4) * 4;
    recorder.dispatch({
      program: fillProgram,
      variant: { dtype },
      uniforms: [{ u32: n }, { u32: seed }, { f32: scale }, { u32: offset }],
      bindings: [{ buffer: tensor.buffer, offset: byteOffset, size }],
      workgroups: linearGrid(device, Math.ceil(n / 256)),
      label: `fill ${label}`,
    });
  }
  await recorder.submit();
  return tensor;
}

/** The first `rows` rows of a tensor, on the host as f32. */
export async function hostRows(tensor: GpuTensor, rows: number): Promise<Float32Array> {
  const vocab = tensor.shape[1]!;
  const count = rows * vocab;
  if (tensor.dtype === 'f32') return new Float32Array(await readBuffer(tensor.device, tensor.buffer, count * 4));
  const bits = new Uint16Array(await readBuffer(tensor.device, tensor.buffer, Math.ceil(count / 2) * 4), 0, count);
  return Float32Array.from(bits, f16ToNumber);
}

function f16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * A baseline timed on `subRows` rows of a `rows`-row batch (the baselines cap their elements), scaled
 * to the whole batch: its stats and, when scaled, `extrapolatedFromRows`.
 */
export function scaledToRows(stats: MsStats, rows: number, subRows: number): { ms: MsStats; extrapolatedFromRows?: number } {
  const scale = rows / subRows;
  return {
    ms: { median: stats.median * scale, min: stats.min * scale, max: stats.max * scale, runs: stats.runs },
    ...(scale !== 1 ? { extrapolatedFromRows: subRows } : {}),
  };
}

/**
 * n floats uniform in [-scale/2, scale/2) from a fixed LCG: the same host inputs on every machine
 * (the train suite's matrices, and the probe scripts', which import it from the build).
 */
export function pseudoRandom(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * scale;
  }
  return out;
}
