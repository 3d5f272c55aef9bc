import { badValue } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice } from '../../checks.js';
import { addKernel } from './add.wgsl.js';

export const addProgram = addKernel;

const WORKGROUP = 256;

function check(...tensors: GpuTensor[]): void {
  for (const t of tensors) requireDtype(t);
  requireSameDevice(tensors[0]!, ...tensors.slice(1));
  for (const t of tensors.slice(1))
    if (t.size !== tensors[0]!.size) throw badValue(`${t.label}.size`, t.size, `${tensors[0]!.size} elements like ${tensors[0]!.label}`);
}

/** Records y = a + b (the residual connection). */
export function recordAdd(recorder: CommandRecorder, a: GpuTensor, b: GpuTensor, y: GpuTensor): void {
  check(a, b, y);
  if (a.size === 0) return;
  checkBindingSize(recorder.device, a.label, a.byteLength);
  addKernel.record(
    recorder,
    { inPlace: false, workgroupSize: WORKGROUP },
    {
      uniforms: { count: a.size },
      bindings: { a, b, y },
      workgroups: linearGrid(recorder.device, Math.ceil(a.size / WORKGROUP)),
      label: `${a.label}+${b.label}`,
    },
  );
}

/** Records y += a (accumulating a residual branch's gradient). */
export function recordAddInPlace(recorder: CommandRecorder, a: GpuTensor, y: GpuTensor): void {
  check(a, y);
  if (a.size === 0) return;
  checkBindingSize(recorder.device, a.label, a.byteLength);
  addKernel.record(
    recorder,
    { inPlace: true, workgroupSize: WORKGROUP },
    {
      uniforms: { count: a.size },
      bindings: { a, y },
      workgroups: linearGrid(recorder.device, Math.ceil(a.size / WORKGROUP)),
      label: `${y.label}+=${a.label}`,
    },
  );
}

export async function add(a: GpuTensor, b: GpuTensor): Promise<GpuTensor> {
  const y = createTensor(a.device, { shape: a.shape, dtype: 'f32', label: `${a.label}+${b.label}` });
  const recorder = new CommandRecorder(a.device, 'add');
  recordAdd(recorder, a, b, y);
  await recorder.submit();
  return y;
}
