// Inputs the probe scripts share, so two probes (or two revisions under one probe) time the same numbers.

/** n floats uniform in [-scale/2, scale/2) from a fixed LCG: the same sequence on every machine. */
export function pseudoRandom(n, seed, scale = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * scale;
  }
  return out;
}

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
