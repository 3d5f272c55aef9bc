// Probe for a revision comparison (docs/benchmarks.md, "Revision comparisons"): times the kernels the kd-loss and
// softmax suites time, called the same way, in one built checkout. Run it alternately on two checkouts
// (base, head, head, base ...) to tell a kernel change from a suite change:
//   node benchmarks/scripts/probe-kd-softmax.mjs <checkout> [rows=1024] [runs=7] [temperature=2]
// Prints one JSON line: median GPU ms (timestamp queries where the adapter has them) of recordKdLoss
// (forward-KL at T = 2 + hard CE, 32,000 columns) and recordTemperedSoftmax, and the kd-loss dispatch count.
import { resolve } from 'node:path';

const [dirArg, rowsArg, runsArg, temperatureArg] = process.argv.slice(2);
const dir = resolve(dirArg);
const rows = Number(rowsArg ?? 1024),
  vocab = 32000,
  runs = Number(runsArg ?? 7);
const webgpu = await import(`${dir}/packages/webgpu/dist/index.js`);
const kernels = await import(`${dir}/packages/kernels/dist/index.js`);
const { device } = await webgpu.acquireDevice({ label: 'probe' });
function pseudoRandom(n, seed, scale) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * scale;
  }
  return out;
}
const median = (s) => {
  s.sort((a, b) => a - b);
  return s[s.length >> 1];
};
const z = webgpu.uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: pseudoRandom(rows * vocab, 1, 6) }, 'student');
const t = webgpu.uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: pseudoRandom(rows * vocab, 2, 6) }, 'teacher');
const labels = webgpu.uploadTensor(
  device,
  { shape: [rows], dtype: 'i32', data: Int32Array.from({ length: rows }, (_, r) => (r * 7919 + 13) % vocab) },
  'labels',
);
const options = {
  studentLogits: z,
  teacher: { kind: 'dense', logits: t },
  labels,
  temperature: Number(temperatureArg ?? 2),
  softWeight: 0.5,
  hardWeight: 0.5,
  check: 'lazy',
};
let dispatches = 0;
const kd = async () => {
  const r = new webgpu.CommandRecorder(device, 'kd');
  const res = kernels.recordKdLoss(r, options);
  dispatches = r.length;
  const { ms, source } = await r.submitTimed();
  await res.total();
  res.release();
  return ms;
};
const sm = async () => {
  const r = new webgpu.CommandRecorder(device, 'sm');
  const { output, releaseScratch } = kernels.recordTemperedSoftmax(r, z, { temperature: 2 });
  const { ms } = await r.submitTimed();
  releaseScratch();
  output.release();
  return ms;
};
const sample = async (fn) => {
  await fn();
  const s = [];
  for (let i = 0; i < runs; i++) s.push(await fn());
  return median(s);
};
const out = {
  checkout: dir,
  rows,
  temperature: options.temperature,
  kdMs: await sample(kd),
  kdDispatches: dispatches,
  softmaxMs: await sample(sm),
};
console.log(JSON.stringify(out));
process.exit(0);
