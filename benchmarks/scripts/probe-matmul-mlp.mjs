// Probe for a revision comparison (docs/benchmarks.md, "Revision comparisons"): times nn's register-tiled matmul at
// 1,024³ and the train suite's MLP (784-800-800-10, batch 128) inference and KD + AdamW step in one built checkout,
// outside the suite. Run it alternately on two checkouts (base, head, head, base ...):
//   node benchmarks/scripts/probe-matmul-mlp.mjs <checkout> [runs=5]
// Prints one JSON line: median wall ms (submit → done) and the command buffers one step submits.
import { resolve } from 'node:path';
import { pseudoRandom } from './probe-inputs.mjs';

const dir = resolve(process.argv[2]);
const runs = Number(process.argv[3] ?? 5);
const webgpu = await import(`${dir}/packages/webgpu/dist/index.js`);
const nn = await import(`${dir}/packages/nn/dist/index.js`);
const kernels = await import(`${dir}/packages/kernels/dist/index.js`);
const { device } = await webgpu.acquireDevice({ label: 'probe' });
const median = (s) => {
  s.sort((a, b) => a - b);
  return s[s.length >> 1];
};
const time = async (fn) => {
  await fn();
  const s = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    s.push(performance.now() - t);
  }
  return median(s);
};
const size = 1024;
const A = webgpu.uploadTensor(device, { shape: [size, size], dtype: 'f32', data: pseudoRandom(size * size, 1) }, 'A');
const B = webgpu.uploadTensor(device, { shape: [size, size], dtype: 'f32', data: pseudoRandom(size * size, 2) }, 'B');
const C = webgpu.createTensor(device, { shape: [size, size], dtype: 'f32', label: 'C' });
const mm = async () => {
  const r = new webgpu.CommandRecorder(device, 'mm');
  nn.recordMatmul(r, A, B, C, nn.setMatmulTile ? { tile: { tiled: false } } : {});
  await r.submit();
  await device.queue.onSubmittedWorkDone();
};
const rows = 128;
const model = nn.MlpClassifier.create(device, { inputSize: 784, hidden: [800, 800], classes: 10, activation: 'relu', dropout: 0, seed: 1 });
const optimizer = new nn.AdamW({ clipNorm: 1 });
const loss = new kernels.KdLoss({ divergence: 'forward-kl' });
const inputs = webgpu.uploadTensor(device, { shape: [rows, 784], dtype: 'f32', data: pseudoRandom(rows * 784, 3) }, 'inputs');
const teacher = webgpu.uploadTensor(
  device,
  { shape: [rows, 10], dtype: 'f32', data: pseudoRandom(rows * 10, 4).map((v) => v * 8) },
  'teacher',
);
const labels = webgpu.uploadTensor(
  device,
  { shape: [rows], dtype: 'i32', data: Int32Array.from({ length: rows }, (_, i) => i % 10) },
  'labels',
);
const hyper = { temperature: 4, softWeight: 1, hardWeight: 0.1 };
const infer = async () => {
  await model.forward({ inputs, rows }, { training: false });
  await device.queue.onSubmittedWorkDone();
};
const step = async () => {
  const logits = await model.forward({ inputs, rows }, { training: true });
  const out = await loss.compute({ studentLogits: logits, targets: { kind: 'dense', logits: teacher }, labels, hyper });
  model.zeroGrad();
  await model.backward(out.gradLogits);
  await optimizer.step(model.parameters(), 1e-4);
  await out.total();
  await device.queue.onSubmittedWorkDone();
};
let submits = 0;
const q = device.queue;
const orig = q.submit.bind(q);
q.submit = (b) => {
  submits++;
  return orig(b);
};
submits = 0;
await step();
const stepSubmits = submits;
const out = {
  checkout: dir,
  matmul1024: await time(mm),
  mlpInfer: await time(infer),
  mlpStep: await time(step),
  stepSubmits,
};
console.log(JSON.stringify(out));
process.exit(0);
