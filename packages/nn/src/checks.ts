import { badValue, DistilleryError, shapeMismatch } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';

/** Throws E_BAD_VALUE unless the tensor is f32 (or the given dtype). */
export function requireDtype(tensor: GpuTensor, dtype: GpuTensor['dtype'] = 'f32'): void {
  if (tensor.dtype !== dtype) throw badValue(`${tensor.label}.dtype`, tensor.dtype, dtype);
}

/** Throws E_SHAPE_MISMATCH unless `tensor.shape` equals `shape`. */
export function requireShape(tensor: GpuTensor, shape: readonly number[]): void {
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
    throw shapeMismatch(tensor.label, tensor.shape, `[${shape.join(', ')}]`);
  }
}

export function requireSameDevice(first: GpuTensor, ...others: GpuTensor[]): void {
  for (const t of others) {
    if (t.device !== first.device) {
      throw new DistilleryError('E_BAD_VALUE', `${t.label} lives on another GPU device than ${first.label}`, { field: t.label });
    }
  }
}

export function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}
