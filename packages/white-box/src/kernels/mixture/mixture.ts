import { badValue, requirePositive, shapeMismatch } from '@distillery/core';
import {
  CommandRecorder,
  checkBindingSize,
  createTensor,
  hasSubgroups,
  linearGrid,
  uploadTensor,
  type GpuTensor,
} from '@distillery/webgpu';
import { mixtureKernel } from './mixture.wgsl.js';

export const mixtureProgram = mixtureKernel;

/**
 * Logits whose tempered softmax is the weighted mixture of the teachers' tempered softmaxes.
 * `weights` are normalised to sum to 1.
 */
export async function mixtureLogits(teachers: readonly GpuTensor[], weights: readonly number[], temperature: number): Promise<GpuTensor> {
  requirePositive('temperature', temperature);
  if (teachers.length === 0) throw badValue('teachers', teachers.length, 'at least one teacher');
  if (weights.length !== teachers.length) throw badValue('weights.length', weights.length, `${teachers.length} (one per teacher)`);
  weights.forEach((w, i) => {
    if (!(Number.isFinite(w) && w >= 0)) throw badValue(`weights[${i}]`, w, 'a finite number >= 0');
  });
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw badValue('weights', weights, 'at least one positive weight');
  const first = teachers[0]!;
  const [rows, vocab] = first.shape as [number, number];
  teachers.forEach((t, i) => {
    if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== vocab || t.dtype !== 'f32') {
      throw shapeMismatch(`teachers[${i}]`, t.shape, `[${rows}, ${vocab}] f32 like teachers[0]`);
    }
  });
  const device = first.device;
  checkBindingSize(device, 'stacked teacher logits', teachers.length * first.byteLength);
  const stacked = createTensor(device, { shape: [teachers.length, rows, vocab], dtype: 'f32', label: 'ensemble-stacked' });
  const encoder = device.createCommandEncoder({ label: 'ensemble-stack' });
  teachers.forEach((t, i) => encoder.copyBufferToBuffer(t.buffer, 0, stacked.buffer, i * first.byteLength, first.byteLength));
  device.queue.submit([encoder.finish()]);
  const w = uploadTensor(
    device,
    { shape: [weights.length], dtype: 'f32', data: Float32Array.from(weights, (x) => x / total) },
    'ensemble-weights',
  );
  const out = createTensor(device, { shape: [rows, vocab], dtype: 'f32', label: 'ensemble-mixture-logits' });
  const workgroupSize = 64;
  const recorder = new CommandRecorder(device, 'ensemble-mixture');
  mixtureKernel.record(
    recorder,
    { workgroupSize, subgroups: hasSubgroups(device) },
    {
      uniforms: { teachers: teachers.length, rows, vocab, temperature },
      bindings: { stacked, weights: w, out },
      workgroups: linearGrid(device, rows),
    },
  );
  await recorder.submit();
  stacked.release();
  w.release();
  return out;
}

/** Float64 reference of `mixtureLogits`. */
export function mixtureLogitsReference(
  teachers: readonly ArrayLike<number>[],
  weights: readonly number[],
  rows: number,
  vocab: number,
  temperature: number,
): Float64Array {
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const mix = new Float64Array(vocab);
    teachers.forEach((z, k) => {
      let m = -Infinity;
      for (let v = 0; v < vocab; v++) m = Math.max(m, z[r * vocab + v]! / temperature);
      if (m === -Infinity) return;
      let s = 0;
      for (let v = 0; v < vocab; v++) s += Math.exp(z[r * vocab + v]! / temperature - m);
      for (let v = 0; v < vocab; v++) mix[v]! += ((weights[k]! / total) * Math.exp(z[r * vocab + v]! / temperature - m)) / s;
    });
    for (let v = 0; v < vocab; v++) out[r * vocab + v] = mix[v]! > 0 ? temperature * Math.log(mix[v]!) : -Infinity;
  }
  return out;
}
