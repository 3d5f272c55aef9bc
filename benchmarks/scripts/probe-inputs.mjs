// Inputs the probe scripts share, so two probes (or two revisions under one probe) time the same numbers:
// the train suite's pseudoRandom, from this checkout's build (npm run build first).
import { pseudoRandom } from '../dist/index.js';

export { pseudoRandom };

/** The KD probes' student and teacher logits ([rows, vocab], spread 6) and labels, uploaded through `webgpu`. */
export function kdInputs(webgpu, device, rows, vocab) {
  const logits = (seed, label) =>
    webgpu.uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: pseudoRandom(rows * vocab, seed, 6) }, label);
  const labels = webgpu.uploadTensor(
    device,
    { shape: [rows], dtype: 'i32', data: Int32Array.from({ length: rows }, (_, r) => (r * 7919 + 13) % vocab) },
    'labels',
  );
  return { z: logits(1, 'student'), t: logits(2, 'teacher'), labels };
}
