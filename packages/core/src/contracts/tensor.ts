/** Element types Distillery's kernels and checkpoints understand. */
export type DType = 'f32' | 'f16' | 'i32' | 'u32';

/**
 * The only thing the contracts need to know about a tensor: its shape and dtype.
 * `@distillery/webgpu`'s `GpuTensor` implements it; so does `HostTensor` for CPU code and tests.
 */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

/** A tensor in host memory, row-major. f16 data is kept as raw IEEE-754 half bits in a Uint16Array. */
export interface HostTensor extends TensorLike {
  readonly data: HostArray;
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = { f32: 4, f16: 2, i32: 4, u32: 4 };

/** A value read lazily, so a GPU loss does not force a device round-trip every step. */
export type Readable<V> = () => Promise<V>;
