/**
 * Kernel checks that run the same in a page and in Node: the tempered softmax and the fused KD
 * loss against their float64 references (`@distillery/kernels/reference`).
 */
import { kdLoss, temperedSoftmax } from '@distillery/kernels';
import { kdLossReference, softmaxReference } from '@distillery/kernels/reference';
import { readFloat32, uploadTensor } from '@distillery/webgpu';

export interface KernelCheck {
  name: string;
  /** Worst |got − want| / (atol + rtol·|want|): ≤ 1 passes. */
  worstRatio: number;
  ok: boolean;
}

/** Deterministic pseudo-random numbers in [−scale, scale] (xorshift32: the same numbers everywhere). */
export function seededLogits(seed: number, count: number, scale = 6): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = (state / 0x100000000) * 2 * scale - scale;
  }
  return out;
}

function worst(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): number {
  let ratio = 0;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i]! - want[i]!) / (atol + rtol * Math.abs(want[i]!));
    if (!(r <= ratio)) ratio = Number.isNaN(r) ? Infinity : r;
  }
  return ratio;
}

const check = (name: string, worstRatio: number): KernelCheck => ({ name, worstRatio, ok: worstRatio <= 1 });

/** Runs every check on `device`; tolerances are the kernels' own test tolerances (f32). */
export async function runKernelChecks(device: GPUDevice): Promise<KernelCheck[]> {
  const results: KernelCheck[] = [];
  for (const [rows, vocab, temperature] of [
    [64, 1000, 2],
    [3, 32_000, 0.5],
    [17, 7, 4],
  ] as const) {
    const logits = seededLogits(rows * 131 + vocab, rows * vocab);
    const input = uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: logits }, 'logits');
    for (const log of [false, true]) {
      const out = await temperedSoftmax(input, { temperature, log });
      const want = softmaxReference(logits, rows, vocab, { temperature, log });
      results.push(
        check(
          `tempered ${log ? 'log-' : ''}softmax ${rows}×${vocab} T=${temperature}`,
          worst(await readFloat32(out), want, log ? 4e-6 : 2e-5, log ? 4e-6 : 2e-6),
        ),
      );
      out.release();
    }
    input.release();
  }
  for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
    const rows = 32;
    const vocab = 500;
    const temperature = 2;
    const student = seededLogits(7, rows * vocab);
    const teacher = seededLogits(11, rows * vocab);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 37) % vocab);
    const result = await kdLoss({
      studentLogits: uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: student }, 'student'),
      teacher: { kind: 'dense', logits: uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: teacher }, 'teacher') },
      labels: uploadTensor(device, { shape: [rows], dtype: 'i32', data: labels }, 'labels'),
      divergence,
      temperature,
      softWeight: 0.7,
      hardWeight: 0.3,
    });
    const want = kdLossReference({
      rows,
      vocab,
      studentLogits: student,
      teacher: { kind: 'dense', logits: teacher },
      labels,
      divergence,
      temperature,
      softWeight: 0.7,
      hardWeight: 0.3,
    });
    results.push(check(`fused KD loss (${divergence}) total`, worst([await result.total()], [want.total], 1e-5, 1e-6)));
    results.push(check(`fused KD loss (${divergence}) dL/dz`, worst(await readFloat32(result.gradLogits), want.gradLogits, 1e-4, 1e-7)));
    result.release();
  }
  return results;
}
