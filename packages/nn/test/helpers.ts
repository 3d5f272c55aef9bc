import { Rng } from '@distillery/core';
import { readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

export function upload(device: GPUDevice, data: Float32Array, shape: readonly number[], label = 'x'): GpuTensor {
  return uploadTensor(device, { shape, dtype: 'f32', data }, label);
}

export function uploadI32(device: GPUDevice, data: ArrayLike<number>, label = 'labels'): GpuTensor {
  return uploadTensor(device, { shape: [data.length], dtype: 'i32', data: Int32Array.from(data) }, label);
}

export const read = readFloat32;

/** Largest |got − want| / tol(i) over all elements; ≤ 1 passes. */
export function worstRatio(got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number): { ratio: number; index: number } {
  let ratio = 0;
  let index = -1;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i]! - want[i]!) / tol(i);
    if (!(r <= ratio)) {
      ratio = r;
      index = i;
    }
  }
  return { ratio, index };
}

/** Σ R ⊙ Y in float64: a linear probe loss whose gradient w.r.t. Y is R. */
export function probe(y: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
  return s;
}

/**
 * Central finite differences of `loss` w.r.t. the chosen entries of `x` (mutated and restored),
 * compared with `grad`. Returns the worst |fd − grad| / (atol + rtol·|fd|).
 */
export async function finiteDifferenceCheck(options: {
  x: Float32Array;
  grad: ArrayLike<number>;
  loss: () => Promise<number> | number;
  indices: readonly number[];
  eps: number;
  atol: number;
  rtol: number;
}): Promise<{ worst: number; details: string[] }> {
  const { x, grad, loss, indices, eps, atol, rtol } = options;
  let worst = 0;
  const details: string[] = [];
  for (const i of indices) {
    const saved = x[i]!;
    x[i] = saved + eps;
    const up = await loss();
    x[i] = saved - eps;
    const down = await loss();
    x[i] = saved;
    // The perturbation actually applied in f32.
    const h = Math.fround(saved + eps) - Math.fround(saved - eps);
    const fd = (up - down) / h;
    const score = Math.abs(fd - grad[i]!) / (atol + rtol * Math.abs(fd));
    if (score > worst) worst = score;
    details.push(`[${i}] fd=${fd.toPrecision(6)} analytic=${Number(grad[i]).toPrecision(6)}`);
  }
  return { worst, details };
}

export function sampleIndices(n: number, count: number, seed: number): number[] {
  const rng = new Rng(seed);
  const picked = new Set<number>();
  while (picked.size < Math.min(count, n)) picked.add(rng.int(n));
  return [...picked];
}
