// Probe for a revision comparison (docs/benchmarks.md, "Revision comparisons"): times the kernels the kd-loss and
// softmax suites time, called the same way, in one built checkout. Run it alternately on two checkouts
// (base, head, head, base ...) to tell a kernel change from a suite change:
//   node benchmarks/scripts/probe-kd-softmax.mjs <checkout> [rows=1024] [runs=7] [temperature=2]
// Prints one JSON line: median GPU ms (timestamp queries where the adapter has them) of recordKdLoss
// (forward-KL at T = 2 + hard CE, 32,000 columns) and recordTemperedSoftmax, and the kd-loss dispatch count.
import { resolve } from 'node:path';
import { kdInputs } from './probe-inputs.mjs';

const [dirArg, rowsArg, runsArg, temperatureArg] = process.argv.slice(2);
const dir = resolve(dirArg);
const rows = Number(rowsArg ?? 1024),
  vocab = 32000,
  runs = Number(runsArg ?? 7);
const webgpu = await import(`${dir}/packages/webgpu/dist/index.js`);
const kernels = await import(`${dir}/packages/kernels/dist/index.js`);
const { device } = await webgpu.acquireDevice({ label: 'probe' });
const median = (s) => {
  s.sort((a, b) => a - b);
  return s[s.length >> 1];
};
const { z, t, labels } = kdInputs(webgpu, device, rows, vocab);
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
