import { badValue } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice } from '../../checks.js';
import { biasGradKernel } from './bias-grad.wgsl.js';

export const biasGradProgram = biasGradKernel;

const WORKGROUP = 64;

/** Records db (+)= Σ over rows of `grad` (`[..., cols]`, cols = db's length). */
export function recordBiasGrad(recorder: CommandRecorder, grad: GpuTensor, db: GpuTensor, { accumulate = false } = {}): void {
  requireDtype(grad);
  requireDtype(db);
  requireSameDevice(grad, db);
  const cols = db.size;
  const last = grad.shape[grad.shape.length - 1];
  if (last !== cols) throw badValue(`${grad.label}.shape`, grad.shape, `last dimension ${cols} like ${db.label}`);
  if (cols === 0) return;
  checkBindingSize(recorder.device, grad.label, grad.byteLength);
  biasGradKernel.record(
    recorder,
    { accumulate, workgroupSize: WORKGROUP },
    {
      uniforms: { rows: grad.size / cols, cols },
      bindings: { grad, db },
      workgroups: [Math.ceil(cols / WORKGROUP)],
      label: `Σrows ${grad.label}`,
    },
  );
}

/** Column sums as a new tensor, submitted. */
export async function biasGrad(grad: GpuTensor): Promise<GpuTensor> {
  const cols = grad.shape[grad.shape.length - 1] ?? 1;
  const db = createTensor(grad.device, { shape: [cols], dtype: 'f32', label: `Σ${grad.label}` });
  const recorder = new CommandRecorder(grad.device, 'bias-grad');
  recordBiasGrad(recorder, grad, db);
  await recorder.submit();
  return db;
}

/** Float64 reference. */
export function biasGradReference(grad: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < grad.length; i++) out[i % cols]! += grad[i]!;
  return out;
}
