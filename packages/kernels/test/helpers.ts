import { isDistilleryError, Rng, type DistilleryError } from '@distillery/core';
import { f16BitsToNumber, numberToF16Bits, readTensor, uploadTensor, type GpuTensor } from '@distillery/webgpu';

export { f16BitsToNumber, numberToF16Bits };
import { expect } from 'vitest';

export interface LogitOptions {
  /** Standard deviation of the logits. */
  scale?: number;
  /** Fraction of entries set to −inf (masked vocabulary). */
  maskFraction?: number;
  /** Rows made entirely −inf. */
  emptyRows?: readonly number[];
  /** Add this to a random row (large magnitudes). */
  offset?: number;
}

/** Deterministic logits, f32-representable, with optional −inf masks and empty rows. */
export function makeLogits(seed: number, rows: number, vocab: number, options: LogitOptions = {}): Float32Array {
  const rng = new Rng(seed);
  const { scale = 3, maskFraction = 0, emptyRows = [], offset = 0 } = options;
  const out = new Float32Array(rows * vocab);
  for (let i = 0; i < out.length; i++) out[i] = offset + scale * rng.normal();
  if (maskFraction > 0) for (let i = 0; i < out.length; i++) if (rng.next() < maskFraction) out[i] = -Infinity;
  for (const r of emptyRows) out.fill(-Infinity, r * vocab, (r + 1) * vocab);
  return out;
}

export function makeLabels(seed: number, rows: number, vocab: number, ignoreEvery = 0, ignoreIndex = -100): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: rows }, (_, r) =>
    ignoreEvery && r % ignoreEvery === ignoreEvery - 1 ? ignoreIndex : Math.floor(rng.next() * vocab),
  );
}

/** Deterministic per-row weights in [0.1, 3), about a quarter of them exactly 0 (row 1 always, when there is one). */
export function makeRowWeights(seed: number, rows: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: rows }, (_, r) => (r === 1 || rng.next() < 0.25 ? 0 : 0.1 + 2.9 * rng.next()));
}

/** Top-k of a logits row-major array: indices and log-probabilities at T = 1 over the full row. */
export function makeTopk(
  logits: Float32Array,
  rows: number,
  vocab: number,
  k: number,
): { indices: Int32Array; logprobs: Float32Array; tailMass: Float32Array } {
  const indices = new Int32Array(rows * k);
  const logprobs = new Float32Array(rows * k);
  const tailMass = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    const order = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]!);
    let mass = 0;
    for (let i = 0; i < k; i++) {
      indices[r * k + i] = order[i]!;
      logprobs[r * k + i] = row[order[i]!]! - lse;
      mass += Math.exp(row[order[i]!]! - lse);
    }
    tailMass[r] = Math.max(0, 1 - mass);
  }
  return { indices, logprobs, tailMass };
}

export function upload(
  device: GPUDevice,
  data: Float32Array | Int32Array,
  shape: number[],
  label: string,
  dtype: 'f32' | 'f16' = 'f32',
): GpuTensor {
  if (data instanceof Int32Array) return uploadTensor(device, { shape, dtype: 'i32', data }, label);
  if (dtype === 'f16') return uploadTensor(device, { shape, dtype: 'f16', data: Uint16Array.from(data, numberToF16Bits) }, label);
  return uploadTensor(device, { shape, dtype: 'f32', data }, label);
}

/** Rounds through f16 (what an f16 upload stores). */
export function roundF16(data: Float32Array): Float32Array {
  return Float32Array.from(data, (v) => f16BitsToNumber(numberToF16Bits(v)));
}

/** Reads an f32 or f16 tensor as numbers. */
export async function readNumbers(tensor: GpuTensor): Promise<Float64Array> {
  const host = await readTensor(tensor);
  if (tensor.dtype === 'f16') return Float64Array.from(host.data as Uint16Array, f16BitsToNumber);
  return Float64Array.from(host.data as Float32Array);
}

/**
 * Element-wise |got − want| ≤ atol + rtol·|want|, with equal infinities allowed; reports the
 * worst element. `step` compares every step-th element (full comparison is slow for huge arrays).
 */
export function expectClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  { rtol = 0, atol = 0, step = 1, what = 'values' }: { rtol?: number; atol?: number; step?: number; what?: string },
): void {
  expect(got.length).toBe(want.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i += step) {
    const g = got[i]!;
    const w = want[i]!;
    if (g === w) continue;
    if (Number.isNaN(g) || Number.isNaN(w) || !Number.isFinite(w) || !Number.isFinite(g)) {
      worst = i;
      worstExcess = Infinity;
      break;
    }
    const excess = Math.abs(g - w) - (atol + rtol * Math.abs(w));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what}[${worst}]: got ${got[worst]}, want ${want[worst]} (|Δ| = ${Math.abs(got[worst]! - want[worst]!)}, tolerance ${atol} + ${rtol}·|want|)`,
    );
  }
}

export function expectScalarClose(got: number, want: number, rtol: number, atol: number, what: string): void {
  if (got === want) return;
  if (!(Math.abs(got - want) <= atol + rtol * Math.abs(want)))
    expect.fail(`${what}: got ${got}, want ${want} (|Δ| = ${Math.abs(got - want)}, tolerance ${atol} + ${rtol}·|want|)`);
}

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

/** Runs `fn` and returns the DistilleryError it throws (fails if it does not). */
export async function caught(fn: () => unknown): Promise<DistilleryError> {
  try {
    await fn();
  } catch (error) {
    if (isDistilleryError(error)) return error;
    throw error;
  }
  return expect.fail('expected a DistilleryError');
}

/** Central differences in float64 (re-exported from the references for tests). */
export { finiteDifferenceGradient as finiteDiff } from '../src/reference.js';
