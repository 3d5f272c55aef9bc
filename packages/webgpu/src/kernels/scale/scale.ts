import { badValue } from '@distillery/core';
import { checkBindingSize, linearGrid } from '../../grid.js';
import { CommandRecorder } from '../../recorder.js';
import { createTensor, type GpuTensor } from '../../tensor.js';
import { scaleKernel } from './scale.wgsl.js';

export const scaleProgram = scaleKernel;

/** Returns a new tensor `alpha · x` (f32 or f16). */
export async function scale(x: GpuTensor, alpha: number): Promise<GpuTensor> {
  if (!Number.isFinite(alpha)) throw badValue('alpha', alpha, 'a finite number');
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw badValue(`${x.label}.dtype`, x.dtype, 'f32 or f16');
  checkBindingSize(x.device, x.label, x.byteLength);
  const y = createTensor(x.device, { shape: x.shape, dtype: x.dtype, label: `${x.label}*${alpha}` });
  const workgroupSize = 256;
  const recorder = new CommandRecorder(x.device, 'scale');
  scaleKernel.record(
    recorder,
    { dtype: x.dtype, workgroupSize },
    {
      uniforms: { count: x.size, alpha },
      bindings: { x, y },
      workgroups: linearGrid(x.device, Math.ceil(x.size / workgroupSize)),
      label: `scale ${x.label}`,
    },
  );
  await recorder.submit();
  return y;
}

/** Float64 reference. */
export function scaleReference(x: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from(x, (v) => alpha * v);
}
