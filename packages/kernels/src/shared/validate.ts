import { badValue, DistilleryError, shapeMismatch, type DType } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import type { FloatDType } from './wgsl-lib.js';

export function requireTensor(field: string, value: unknown): GpuTensor {
  if (!value || typeof value !== 'object' || !('buffer' in value) || !('shape' in value) || !('dtype' in value)) {
    throw badValue(field, value, 'a GpuTensor');
  }
  return value as GpuTensor;
}

export function requireFloat(field: string, tensor: GpuTensor): FloatDType {
  if (tensor.dtype !== 'f32' && tensor.dtype !== 'f16') throw badValue(`${field}.dtype`, tensor.dtype, "'f32' or 'f16'");
  if (tensor.dtype === 'f16' && !tensor.device.features.has('shader-f16')) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `${field} is f16 but the device was created without the 'shader-f16' feature (the adapter may lack it); use f32`,
      {
        field: `${field}.dtype`,
        value: 'f16',
      },
    );
  }
  return tensor.dtype;
}

export function requireDType(field: string, tensor: GpuTensor, dtype: DType): void {
  if (tensor.dtype !== dtype) throw badValue(`${field}.dtype`, tensor.dtype, `'${dtype}'`);
}

/** [rows, cols] of a 2-D tensor (a 1-D tensor is one row). */
export function rowsCols(field: string, tensor: GpuTensor): [number, number] {
  const { shape } = tensor;
  if (shape.length === 1) return [1, shape[0]!];
  if (shape.length !== 2) throw shapeMismatch(field, shape, '[rows, vocab]');
  return [shape[0]!, shape[1]!];
}

export function requireShape(field: string, tensor: GpuTensor, expected: readonly number[]): void {
  if (tensor.shape.length !== expected.length || tensor.shape.some((d, i) => d !== expected[i])) {
    throw shapeMismatch(field, tensor.shape, `[${expected.join(', ')}]`);
  }
}

export function requireSameDevice(field: string, tensor: GpuTensor, device: GPUDevice): void {
  if (tensor.device !== device)
    throw new DistilleryError('E_BAD_VALUE', `${field} lives on another GPUDevice than the student logits`, { field });
}

export function requireOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw badValue(field, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  return value as T;
}
