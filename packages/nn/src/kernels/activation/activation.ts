import { badValue, requireInteger } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice } from '../../checks.js';
import type { Activation } from '../activation-math.js';
import type { DropoutSpec } from '../matmul/matmul.js';
import { activationKernel } from './activation.wgsl.js';

export const activationProgram = activationKernel;

const WORKGROUP = 256;

export function checkDropout(dropout: DropoutSpec | undefined): DropoutSpec | undefined {
  if (!dropout) return undefined;
  if (!(dropout.p >= 0 && dropout.p < 1)) throw badValue('dropout.p', dropout.p, 'a number in [0, 1)');
  requireInteger('dropout.seed', dropout.seed, 0, 0xffffffff);
  requireInteger('dropout.step', dropout.step, 0, 0xffffffff);
  return dropout.p > 0 ? dropout : undefined;
}

function sameSize(a: GpuTensor, b: GpuTensor): void {
  if (a.size !== b.size) throw badValue(`${b.label}.size`, b.size, `${a.size} elements like ${a.label}`);
}

function dropoutUniforms(dropout: DropoutSpec | undefined) {
  const p = dropout?.p ?? 0;
  return { seed: dropout?.seed ?? 0, step: dropout?.step ?? 0, p, keep_scale: 1 / (1 - p) };
}

/** Records y = dropout(act(x)) elementwise. */
export function recordActivation(
  recorder: CommandRecorder,
  x: GpuTensor,
  y: GpuTensor,
  activation: Activation,
  dropout?: DropoutSpec,
): void {
  requireDtype(x);
  requireDtype(y);
  requireSameDevice(x, y);
  sameSize(x, y);
  const drop = checkDropout(dropout);
  if (x.size === 0) return;
  checkBindingSize(recorder.device, x.label, x.byteLength);
  activationKernel.record(
    recorder,
    { activation, dropout: Boolean(drop), backward: false, workgroupSize: WORKGROUP },
    {
      uniforms: { count: x.size, ...dropoutUniforms(drop) },
      bindings: { x, y },
      workgroups: linearGrid(recorder.device, Math.ceil(x.size / WORKGROUP)),
      label: `${activation} ${x.label}`,
    },
  );
}

/**
 * Records dx = dy · mask · act'(saved). `saved` is the pre-activation (any activation) or, for
 * ReLU, the forward output. Pass the forward's dropout spec to re-derive its mask.
 */
export function recordActivationBackward(
  recorder: CommandRecorder,
  gradOut: GpuTensor,
  saved: GpuTensor,
  gradIn: GpuTensor,
  activation: Activation,
  dropout?: DropoutSpec,
): void {
  for (const t of [gradOut, saved, gradIn]) requireDtype(t);
  requireSameDevice(gradOut, saved, gradIn);
  sameSize(gradOut, saved);
  sameSize(gradOut, gradIn);
  const drop = checkDropout(dropout);
  if (gradOut.size === 0) return;
  checkBindingSize(recorder.device, gradOut.label, gradOut.byteLength);
  activationKernel.record(
    recorder,
    { activation, dropout: Boolean(drop), backward: true, workgroupSize: WORKGROUP },
    {
      uniforms: { count: gradOut.size, ...dropoutUniforms(drop) },
      bindings: { grad_out: gradOut, saved, grad_in: gradIn },
      workgroups: linearGrid(recorder.device, Math.ceil(gradOut.size / WORKGROUP)),
      label: `${activation}' ${gradOut.label}`,
    },
  );
}

/** y = dropout(act(x)) as a new tensor, submitted. */
export async function activate(x: GpuTensor, activation: Activation, dropout?: DropoutSpec): Promise<GpuTensor> {
  const y = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `${activation}(${x.label})` });
  const recorder = new CommandRecorder(x.device, 'activation');
  recordActivation(recorder, x, y, activation, dropout);
  await recorder.submit();
  return y;
}

/** dx = dy · mask · act'(saved) as a new tensor, submitted. */
export async function activationBackward(
  gradOut: GpuTensor,
  saved: GpuTensor,
  activation: Activation,
  dropout?: DropoutSpec,
): Promise<GpuTensor> {
  const gradIn = createTensor(gradOut.device, { shape: gradOut.shape, dtype: 'f32', label: `d${activation}` });
  const recorder = new CommandRecorder(gradOut.device, 'activation-backward');
  recordActivationBackward(recorder, gradOut, saved, gradIn, activation, dropout);
  await recorder.submit();
  return gradIn;
}
