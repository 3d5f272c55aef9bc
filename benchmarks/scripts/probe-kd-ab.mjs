// A/B probe of the fused KD loss in ONE process (docs/benchmarks.md, "Revision comparisons"): times recordKdLoss of
// two builds of @distillery/kernels call by call in turn (base, head, head, base, ...) on one device, GPU timestamps
// where the adapter has them, so load from other processes hits both alike. Both builds must resolve the same
// @distillery/webgpu: copy the base revision's built kernels inside this checkout first (any built checkout of it, e.g.
// the one `distillery-bench compare` keeps under /tmp/distillery-bench-revs/<commit>):
//   cp -r <base checkout>/packages/kernels/dist packages/kernels/.base-dist
//   node benchmarks/scripts/probe-kd-ab.mjs packages/kernels/.base-dist [rows=1024] [rounds=12] [temperature=4] [divergence=forward-kl] [hardWeight=0.5]
// (LP_NUM_THREADS=1 makes lavapipe run each dispatch on one thread: less sensitive to a busy machine.)
// Prints one JSON line: median, 10th percentile and min GPU ms of each build and base/head of each (above 1: head faster).
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kdInputs } from './probe-inputs.mjs';

const [baseArg, rowsArg, roundsArg, temperatureArg, divergenceArg, hardWeightArg] = process.argv.slice(2);
if (!baseArg) throw new Error('usage: probe-kd-ab.mjs <base kernels dist> [rows] [rounds] [temperature] [divergence] [hardWeight]');
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const rows = Number(rowsArg ?? 1024),
  vocab = 32000,
  rounds = Number(roundsArg ?? 12);
const webgpu = await import(`${root}/packages/webgpu/dist/index.js`);
const builds = {
  base: await import(`${resolve(baseArg)}/index.js`),
  head: await import(`${root}/packages/kernels/dist/index.js`),
};
const { device, info } = await webgpu.acquireDevice({ label: 'probe-kd-ab' });
const loadAtStart = loadavg()[0];
const { z, t, labels } = kdInputs(webgpu, device, rows, vocab);
// hardWeight 0: no labels, no hard cross-entropy term (the soft term alone).
const hardWeight = Number(hardWeightArg ?? 0.5);
const options = {
  studentLogits: z,
  teacher: { kind: 'dense', logits: t },
  ...(hardWeight > 0 ? { labels } : {}),
  temperature: Number(temperatureArg ?? 4),
  softWeight: 0.5,
  hardWeight,
  divergence: divergenceArg ?? 'forward-kl',
  check: 'lazy',
};
const loss = {};
const once = async (name) => {
  const recorder = new webgpu.CommandRecorder(device, `probe-${name}`);
  const result = builds[name].recordKdLoss(recorder, options);
  const { ms } = await recorder.submitTimed();
  loss[name] = await result.total();
  result.release();
  return ms;
};
const samples = { base: [], head: [] };
await once('base');
await once('head');
for (let i = 0; i < rounds; i++) for (const name of i % 2 ? ['head', 'base'] : ['base', 'head']) samples[name].push(await once(name));
const quantile = (s, f) => [...s].sort((a, b) => a - b)[Math.floor((s.length - 1) * f)];
const out = {
  adapter: `${info.vendor} ${info.architecture} ${info.device}`.trim(),
  date: new Date().toISOString(),
  load: [+loadAtStart.toFixed(1), +loadavg()[0].toFixed(1)],
  rows,
  vocab,
  temperature: options.temperature,
  divergence: options.divergence,
  hardWeight,
  rounds,
  loss,
};
for (const name of ['base', 'head'])
  out[name] = { median: quantile(samples[name], 0.5), p10: quantile(samples[name], 0.1), min: Math.min(...samples[name]) };
out.baseOverHead = Object.fromEntries(['median', 'p10', 'min'].map((k) => [k, +(out.base[k] / out.head[k]).toFixed(3)]));
console.log(JSON.stringify(out));
process.exit(0);
