import { badValue } from '@distillery/core';
import { CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { swigluKernel } from './swiglu.wgsl.js';

const WORKGROUP = 256;

function check(gate: GpuTensor, others: GpuTensor[]): void {
  requireDtype(gate);
  if (gate.size === 0) throw badValue(`${gate.label}.shape`, gate.shape, 'a non-empty tensor');
  for (const t of others) {
    requireDtype(t);
    requireShape(t, gate.shape);
  }
  requireSameDevice(gate, ...others);
}

/** Records out = silu(gate) ⊙ up (the Llama MLP's gating), all the same shape. */
export function recordSwiglu(recorder: CommandRecorder, gate: GpuTensor, up: GpuTensor, out: GpuTensor): void {
  check(gate, [up, out]);
  swigluKernel.record(
    recorder,
    { backward: false, workgroupSize: WORKGROUP },
    {
      uniforms: { count: gate.size },
      bindings: { gate, up, out },
      workgroups: linearGrid(recorder.device, Math.ceil(gate.size / WORKGROUP)),
      label: `swiglu ${gate.label}`,
    },
  );
}

/** Records dgate = dout·up·silu'(gate) and dup = dout·silu(gate) (both overwritten). */
export function recordSwigluBackward(
  recorder: CommandRecorder,
  dout: GpuTensor,
  gate: GpuTensor,
  up: GpuTensor,
  dgate: GpuTensor,
  dup: GpuTensor,
): void {
  check(gate, [dout, up, dgate, dup]);
  swigluKernel.record(
    recorder,
    { backward: true, workgroupSize: WORKGROUP },
    {
      uniforms: { count: gate.size },
      bindings: { dout, gate, up, dgate, dup },
      workgroups: linearGrid(recorder.device, Math.ceil(gate.size / WORKGROUP)),
      label: `swiglu' ${gate.label}`,
    },
  );
}

/** out as a new tensor, submitted. */
export async function swiglu(gate: GpuTensor, up: GpuTensor): Promise<GpuTensor> {
  const out = createTensor(gate.device, { shape: gate.shape, dtype: 'f32', label: `swiglu(${gate.label})` });
  const recorder = new CommandRecorder(gate.device, 'swiglu');
  recordSwiglu(recorder, gate, up, out);
  await recorder.submit();
  return out;
}

/** dgate and dup as new tensors, submitted. */
export async function swigluBackward(dout: GpuTensor, gate: GpuTensor, up: GpuTensor): Promise<{ dgate: GpuTensor; dup: GpuTensor }> {
  const dgate = createTensor(gate.device, { shape: gate.shape, dtype: 'f32', label: `d${gate.label}` });
  const dup = createTensor(gate.device, { shape: gate.shape, dtype: 'f32', label: `d${up.label}` });
  const recorder = new CommandRecorder(gate.device, 'swiglu-backward');
  recordSwigluBackward(recorder, dout, gate, up, dgate, dup);
  await recorder.submit();
  return { dgate, dup };
}
