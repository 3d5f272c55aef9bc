import { requireInteger, requireNonNegative } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice } from '../../checks.js';
import { normalAt, streamKey } from '../../random.js';
import { jitterKernel } from './jitter.wgsl.js';

export const jitterProgram = jitterKernel;

const WORKGROUP = 256;

export interface JitterSpec {
  /** Standard deviation of the Gaussian noise. */
  std: number;
  seed: number;
  step: number;
}

/** Records y = x + std · N(0, 1) (input jitter; no backward: inputs carry no gradient). */
export function recordJitter(recorder: CommandRecorder, x: GpuTensor, y: GpuTensor, { std, seed, step }: JitterSpec): void {
  requireDtype(x);
  requireDtype(y);
  requireSameDevice(x, y);
  requireNonNegative('jitter.std', std);
  requireInteger('jitter.seed', seed, 0, 0xffffffff);
  requireInteger('jitter.step', step, 0, 0xffffffff);
  if (x.size === 0) return;
  checkBindingSize(recorder.device, x.label, x.byteLength);
  jitterKernel.record(
    recorder,
    { workgroupSize: WORKGROUP },
    {
      uniforms: { count: x.size, seed, step, noise_std: std },
      bindings: { x, y },
      workgroups: linearGrid(recorder.device, Math.ceil(x.size / WORKGROUP)),
      label: `jitter ${x.label}`,
    },
  );
}

export async function jitter(x: GpuTensor, spec: JitterSpec): Promise<GpuTensor> {
  const y = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `${x.label}+noise` });
  const recorder = new CommandRecorder(x.device, 'jitter');
  recordJitter(recorder, x, y, spec);
  await recorder.submit();
  return y;
}

/** Float64 reference. */
export function jitterReference(x: ArrayLike<number>, { std, seed, step }: JitterSpec): Float64Array {
  const key = streamKey(seed, step);
  return Float64Array.from(x, (v, i) => v + std * normalAt(key, i));
}
