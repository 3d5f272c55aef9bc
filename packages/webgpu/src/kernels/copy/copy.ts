import { DistilleryError } from '@distillery/core';
import { checkBindingSize, linearGrid } from '../../grid.js';
import type { CommandRecorder } from '../../recorder.js';
import type { GpuTensor } from '../../tensor.js';
import { copyKernel } from './copy.wgsl.js';

export const copyProgram = copyKernel;

const WORKGROUP = 256;

/** Records `dst ← src` (any dtype; same byte length): vec4 bulk plus a scalar tail. */
export function recordCopy(recorder: CommandRecorder, src: GpuTensor, dst: GpuTensor): void {
  if (src.byteLength !== dst.byteLength) {
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `copy: ${src.label} [${src.shape.join(', ')}] ${src.dtype} and ${dst.label} [${dst.shape.join(', ')}] ${dst.dtype} differ in size`,
      { field: 'dst' },
    );
  }
  checkBindingSize(recorder.device, src.label, src.byteLength);
  const words = Math.ceil(src.byteLength / 4);
  const vec4s = Math.floor(words / 4);
  const label = `copy ${src.label} -> ${dst.label}`;
  if (vec4s > 0) {
    copyKernel.record(
      recorder,
      { workgroupSize: WORKGROUP, vec4: true },
      {
        uniforms: { count: vec4s, offset: 0 },
        bindings: { src, dst },
        workgroups: linearGrid(recorder.device, Math.ceil(vec4s / WORKGROUP)),
        label,
      },
    );
  }
  if (words > vec4s * 4) {
    copyKernel.record(
      recorder,
      { workgroupSize: WORKGROUP, vec4: false },
      {
        uniforms: { count: words - vec4s * 4, offset: vec4s * 4 },
        bindings: { src, dst },
        workgroups: [1],
        label: `${label} (tail)`,
      },
    );
  }
}
