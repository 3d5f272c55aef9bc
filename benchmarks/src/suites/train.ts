import { KdLoss } from '@distillery/kernels';
import {
  MlpClassifier,
  AdamW,
  isRegisterTileChoice,
  matmulTileOption,
  recordMatmul,
  setMatmulTile,
  tuneMatmul,
  type MatmulCandidate,
  type MatmulChoice,
  type MatmulOptions,
} from '@distillery/nn';
import { bufferPool, CommandRecorder, createTensor, isCpuAdapter, uploadTensor, zerosTensor, type GpuTensor } from '@distillery/webgpu';
import { loadTfjs, tfjsSync } from '../baselines/tfjs.js';
import { pseudoRandom } from '../baselines/data.js';
import { fusedLinearKdLoss, unfusedLinearKdLoss } from '@distillery/white-box';
import { recordResult, type BenchContext, type BenchResult, type BenchSuite } from '../suite.js';
import { caseUnfitReason, guardedCases, type CaseSpec } from '../case-guard.js';
import { summarize, timeHost } from '../timing.js';
import type { TorchBaseline } from '../baselines/torch.js';
import { interleaved, withTorch } from '../baselines/torch-run.js';
import { withHeld, type Hold } from '../held.js';

type Tf = typeof import('@tensorflow/tfjs-core');

interface TfjsHandle {
  tf: Tf;
  /** Flushes tfjs's pending command encoder and waits for the GPU. */
  finish(): Promise<void>;
}

/** tfjs with the WebGPU backend on the same adapter, or the reason it is unavailable. */
async function tfjsHandle(): Promise<TfjsHandle | string> {
  try {
    const tf = await loadTfjs();
    return { tf, finish: () => tfjsSync(tf) };
  } catch (error) {
    return (error as Error).message;
  }
}

/** This process's CPU usage so far; undefined in a page (`--browser`), which has no `process`. */
function hostCpuUsage(): NodeJS.CpuUsage | undefined {
  return typeof process === 'undefined' ? undefined : process.cpuUsage();
}

/** CPU milliseconds of this process since `since` (all threads: lavapipe's workers included); NaN in a page. */
function cpuMs(since: NodeJS.CpuUsage | undefined): { ms: number } {
  if (!since) return { ms: NaN };
  const usage = process.cpuUsage(since);
  return { ms: (usage.user + usage.system) / 1000 };
}

/** One way of running nn's matmul: the adapter's tuned choice first, then the alternatives it was chosen over. */
export interface MatmulSetting {
  name: string;
  tile: MatmulChoice;
}

const describeTile = (tile: MatmulChoice | MatmulCandidate) => {
  if (tile === false || tile === 'register') return 'register-tiled';
  if (isRegisterTileChoice(tile))
    return `register-tiled ${tile.register.rowsPerThread}x${4 * tile.register.colVecs} per thread, A ${tile.register.aLoad}`;
  return `workgroup-tiled ${tile.wgX}x${tile.wgY} threads, ${tile.rows}x${4 * tile.colVecs} per thread, bk ${tile.bk}`;
};

/** Tunes nn's matmul on this device and returns the settings to compare: the choice, the register-tiled kernel (before) and the best workgroup-tiled one. */
async function matmulSettings(ctx: BenchContext): Promise<MatmulSetting[]> {
  const tuning = await tuneMatmul(ctx.device!, { size: 512, runs: 3 });
  ctx.log(
    `matmul tuning at 512³: ${tuning.timings.map((t) => `${describeTile(t.config)} ${t.ms.toFixed(1)} ms`).join('; ')} → ${describeTile(tuning.choice)}`,
  );
  const settings: MatmulSetting[] = [{ name: 'tuned', tile: tuning.choice }];
  if (tuning.choice !== false) settings.push({ name: 'register-tiled', tile: false });
  const tiled = tuning.timings.filter((t) => t.config !== 'register' && !isRegisterTileChoice(t.config)).sort((x, y) => x.ms - y.ms)[0];
  if (tuning.choice === false && tiled && tiled.config !== 'register') settings.push({ name: 'workgroup-tiled', tile: tiled.config });
  return settings;
}

interface Sample {
  ms: number;
  cpuMs: number;
}

/** Wall clock from submit to onSubmittedWorkDone, the same measure for both implementations. */
async function timeOurs(device: GPUDevice, a: GpuTensor, b: GpuTensor, c: GpuTensor, options: MatmulOptions): Promise<Sample> {
  const recorder = new CommandRecorder(device, 'bench-matmul');
  recordMatmul(recorder, a, b, c, options);
  const cpu = hostCpuUsage();
  const start = performance.now();
  await recorder.submit();
  await device.queue.onSubmittedWorkDone();
  return { ms: performance.now() - start, cpuMs: cpuMs(cpu).ms };
}

/** One matmul size: ours (each setting) against tfjs and PyTorch; releases its tensors on every path. Exported for tests. */
export async function matmulCase(
  ctx: BenchContext,
  size: number,
  tfjs: TfjsHandle | string,
  torch: TorchBaseline[],
  settings: MatmulSetting[],
): Promise<BenchResult> {
  return withHeld((hold) => measureMatmul(ctx, size, tfjs, torch, settings, hold));
}

async function measureMatmul(
  ctx: BenchContext,
  size: number,
  tfjs: TfjsHandle | string,
  torch: TorchBaseline[],
  settings: MatmulSetting[],
  hold: Hold,
): Promise<BenchResult> {
  const device = ctx.device!;
  const runs = ctx.options.runs ? Number(ctx.options.runs) : ctx.quick ? 3 : size >= 2048 ? 5 : size >= 1024 ? 7 : 15;
  const a = hold(uploadTensor(device, { shape: [size, size], dtype: 'f32', data: pseudoRandom(size * size, 1) }, 'A'));
  const b = hold(uploadTensor(device, { shape: [size, size], dtype: 'f32', data: pseudoRandom(size * size, 2) }, 'B'));
  const c = hold(createTensor(device, { shape: [size, size], dtype: 'f32', label: 'C' }));
  const flops = 2 * size ** 3;
  let tfA: import('@tensorflow/tfjs-core').Tensor2D | undefined;
  let tfB: import('@tensorflow/tfjs-core').Tensor2D | undefined;
  if (typeof tfjs !== 'string') {
    tfA = hold(tfjs.tf.tensor2d(pseudoRandom(size * size, 1), [size, size]));
    tfB = hold(tfjs.tf.tensor2d(pseudoRandom(size * size, 2), [size, size]));
  }
  const tfOnce = async (): Promise<Sample> => {
    const t = tfjs as TfjsHandle;
    const cpu = hostCpuUsage();
    const start = performance.now();
    const out = t.tf.matMul(tfA!, tfB!);
    await t.finish();
    const sample = { ms: performance.now() - start, cpuMs: cpuMs(cpu).ms };
    out.dispose();
    return sample;
  };
  for (const t of torch) {
    await t.load('a', pseudoRandom(size * size, 1), [size, size]);
    await t.load('b', pseudoRandom(size * size, 2), [size, size]);
  }
  // Warm-up compiles both pipelines; then the implementations alternate so that load from
  // other processes on the machine hits all alike.
  for (const setting of settings) await timeOurs(device, a, b, c, { tile: matmulTileOption(setting.tile) });
  if (tfA) await tfOnce();
  for (const t of torch) await t.time({ op: 'matmul', a: 'a', b: 'b' });
  const ours: Sample[] = [];
  const alternatives: Sample[][] = settings.slice(1).map(() => []);
  const theirs: Sample[] = [];
  const torchMs: number[][] = torch.map(() => []);
  for (let i = 0; i < runs; i++) {
    ours.push(await timeOurs(device, a, b, c, { tile: matmulTileOption(settings[0]!.tile) }));
    for (const [j, setting] of settings.slice(1).entries())
      alternatives[j]!.push(await timeOurs(device, a, b, c, { tile: matmulTileOption(setting.tile) }));
    if (tfA) theirs.push(await tfOnce());
    for (const [j, t] of torch.entries()) torchMs[j]!.push((await t.time({ op: 'matmul', a: 'a', b: 'b' })).ms);
  }
  for (const t of torch) await t.free('a', 'b');
  const ms = summarize(ours.map((x) => x.ms));
  const oursCpu = summarize(ours.map((x) => x.cpuMs)).median;
  const result: BenchResult = {
    suite: 'train',
    name: 'matmul',
    params: { M: size, N: size, K: size, dtype: 'f32', kernel: describeTile(settings[0]!.tile) },
    ms,
    flops,
    gflops: flops / (ms.median * 1e6),
    // GFLOP per CPU-second is steadier than wall clock on a shared machine running a CPU rasteriser.
    metrics: { gflopsPerCpuSecond: flops / (oursCpu * 1e6) },
  };
  if (theirs.length) {
    const tms = summarize(theirs.map((x) => x.ms));
    const theirCpu = summarize(theirs.map((x) => x.cpuMs)).median;
    result.baselines = { 'tfjs-webgpu': { ms: tms, gflops: flops / (tms.median * 1e6), gflopsPerCpuSecond: flops / (theirCpu * 1e6) } };
    result.metrics!.speedupVsTfjs = tms.median / ms.median;
    result.metrics!.cpuEfficiencyVsTfjs = theirCpu / oursCpu;
  }
  for (const [j, setting] of settings.slice(1).entries()) {
    const sms = summarize(alternatives[j]!.map((x) => x.ms));
    (result.baselines ??= {})[`nn ${setting.name}`] = { ms: sms, gflops: flops / (sms.median * 1e6), kernel: describeTile(setting.tile) };
    result.metrics![`speedupVs_nn ${setting.name}`] = sms.median / ms.median;
  }
  for (const [j, t] of torch.entries()) {
    const tms = summarize(torchMs[j]!);
    (result.baselines ??= {})[t.name] = { ms: tms, gflops: flops / (tms.median * 1e6), ...t.describe() };
    result.metrics![`speedupVs_${t.name}`] = tms.median / ms.median;
  }
  return result;
}

const MLP = { inputSize: 784, hidden: [800, 800], classes: 10 };
const TEMPERATURE = 4;

/**
 * The same training step in tfjs: dense layers, forward-KL KD at T plus hard cross-entropy,
 * gradients by autodiff, Adam. What a JS user would write today.
 */
async function tfjsMlpStep(tfjs: TfjsHandle, rows: number, x: Float32Array, teacher: Float32Array, labels: Int32Array) {
  const { tf } = tfjs;
  const sizes = [MLP.inputSize, ...MLP.hidden, MLP.classes];
  const weights = sizes.slice(0, -1).map((n, i) => tf.variable(tf.randomNormal([n, sizes[i + 1]!], 0, Math.sqrt(2 / n), 'float32', i + 1)));
  const biases = sizes.slice(1).map((n) => tf.variable(tf.zeros([n])));
  const optimizer = tf.train.adam(1e-4);
  const inputs = tf.tensor2d(x, [rows, MLP.inputSize]);
  const teacherLogits = tf.tensor2d(teacher, [rows, MLP.classes]);
  const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), MLP.classes);
  const loss = () => {
    let h: import('@tensorflow/tfjs-core').Tensor2D = inputs;
    weights.forEach((w, i) => {
      h = tf.add(tf.matMul(h, w), biases[i]!) as import('@tensorflow/tfjs-core').Tensor2D;
      if (i + 1 < weights.length) h = tf.relu(h);
    });
    const logS = tf.logSoftmax(tf.div(h, TEMPERATURE));
    const logT = tf.logSoftmax(tf.div(teacherLogits, TEMPERATURE));
    const soft = tf.mul(tf.mean(tf.sum(tf.mul(tf.exp(logT), tf.sub(logT, logS)), 1)), TEMPERATURE * TEMPERATURE);
    const hard = tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(h)), 1)));
    return tf.add(soft, tf.mul(hard, 0.1)) as import('@tensorflow/tfjs-core').Scalar;
  };
  return {
    async step() {
      tf.tidy(() => {
        optimizer.minimize(loss);
      });
      await tfjs.finish();
    },
    dispose() {
      tf.dispose([...weights, ...biases, inputs, teacherLogits, oneHot]);
      optimizer.dispose();
    },
  };
}

/** The MLP training step and inference (two rows): ours against tfjs and PyTorch; releases what it holds on every path. Exported for tests. */
export async function mlpTraining(
  ctx: BenchContext,
  tfjs: TfjsHandle | string,
  torch: TorchBaseline[],
  settings: MatmulSetting[],
): Promise<BenchResult[]> {
  return withHeld((hold) => measureMlpTraining(ctx, tfjs, torch, settings, hold));
}

async function measureMlpTraining(
  ctx: BenchContext,
  tfjs: TfjsHandle | string,
  torch: TorchBaseline[],
  settings: MatmulSetting[],
  hold: Hold,
): Promise<BenchResult[]> {
  const device = ctx.device!;
  const rows = 128;
  const model = hold(MlpClassifier.create(device, { ...MLP, activation: 'relu', dropout: 0, seed: 1 }));
  const optimizer = hold(new AdamW({ clipNorm: 1 }));
  const loss = new KdLoss({ divergence: 'forward-kl' });
  // KdLoss frees each step's outputs at the next step; the last step's are freed with the case.
  let lastOutputs: { release(): void } | undefined;
  hold({ release: () => lastOutputs?.release() });
  const x = pseudoRandom(rows * 784, 3);
  const teacherHost = pseudoRandom(rows * 10, 4).map((v) => v * 8);
  const labelsHost = Int32Array.from({ length: rows }, (_, i) => i % 10);
  const inputs = hold(uploadTensor(device, { shape: [rows, 784], dtype: 'f32', data: x }, 'inputs'));
  const teacher = hold(uploadTensor(device, { shape: [rows, 10], dtype: 'f32', data: teacherHost }, 'teacher-logits'));
  const labels = hold(uploadTensor(device, { shape: [rows], dtype: 'i32', data: labelsHost }, 'labels'));
  const hyper = { temperature: TEMPERATURE, softWeight: 1, hardWeight: 0.1 };
  const steps = ctx.options.runs ? Number(ctx.options.runs) : ctx.quick ? 3 : 10;
  // A full student step: forward, fused KD loss + dL/dlogits, backward, AdamW (clipping, NaN check).
  // Resolves when the step's GPU work is done: the next step never absorbs this one's tail.
  const ourStep = async () => {
    const logits = await model.forward({ inputs, rows }, { training: true });
    const out = await loss.compute({ studentLogits: logits, targets: { kind: 'dense', logits: teacher }, labels, hyper });
    lastOutputs = out;
    model.zeroGrad();
    await model.backward(out.gradLogits);
    await optimizer.step(model.parameters(), 1e-4);
    await out.total();
    await device.queue.onSubmittedWorkDone();
  };
  const ms = await timeHost(ourStep, { runs: steps });
  const inferMs = await timeHost(
    async () => {
      await model.forward({ inputs, rows }, { training: false });
      await device.queue.onSubmittedWorkDone();
    },
    { runs: steps },
  );
  // Forward 2·rows·Σ(in·out), backward twice that (dX and dW), first layer's dX skipped.
  const macs = 784 * 800 + 800 * 800 + 800 * 10;
  const flops = 2 * rows * (3 * macs - 784 * 800);
  const parameters = model.parameterCount;
  const train: BenchResult = {
    suite: 'train',
    name: 'mlp-train-step',
    params: { widths: '784-800-800-10', batch: rows, optimizer: 'adamw', loss: 'kd forward-kl T=4 + 0.1 hard' },
    ms,
    flops,
    gflops: flops / (ms.median * 1e6),
    metrics: { samplesPerSecond: (rows * 1000) / ms.median, parameters },
  };
  if (typeof tfjs !== 'string') {
    const baseline = hold(await tfjsMlpStep(tfjs, rows, x, teacherHost, labelsHost));
    const tms = await timeHost(baseline.step, { runs: steps });
    train.baselines = { ...train.baselines, 'tfjs-webgpu': { ms: tms, samplesPerSecond: (rows * 1000) / tms.median } };
    train.metrics!.speedupVsTfjs = tms.median / ms.median;
  }
  // Interleaved, one step each in turn: ours with the tuned matmul, ours with the alternatives
  // (before/after), and PyTorch.
  for (const t of torch) {
    await t.request({ op: 'mlp-init', widths: [MLP.inputSize, ...MLP.hidden, MLP.classes] });
    await t.load('x', x, [rows, MLP.inputSize]);
    await t.load('teacher', teacherHost, [rows, MLP.classes]);
    await t.load('labels', labelsHost, [rows]);
  }
  const request = {
    op: 'mlp-step',
    x: 'x',
    teacher: 'teacher',
    labels: 'labels',
    T: TEMPERATURE,
    softWeight: hyper.softWeight,
    hardWeight: hyper.hardWeight,
  };
  const withTile = (tile: MatmulChoice) => async () => {
    setMatmulTile(device, tile);
    try {
      const start = performance.now();
      await ourStep();
      return performance.now() - start;
    } finally {
      setMatmulTile(device, settings[0]!.tile);
    }
  };
  const others = settings.slice(1);
  const pair = await interleaved(
    withTile(settings[0]!.tile),
    [...others.map((o) => withTile(o.tile)), ...torch.map((t) => async () => (await t.time(request)).ms)],
    steps,
  );
  const oursInterleaved = summarize(pair.ours).median;
  train.metrics!.msInterleaved = oursInterleaved;
  train.params.kernel = describeTile(settings[0]!.tile);
  for (const [j, o] of others.entries()) {
    const oms = summarize(pair.theirs[j]!);
    (train.baselines ??= {})[`nn ${o.name}`] = { ms: oms, samplesPerSecond: (rows * 1000) / oms.median, kernel: describeTile(o.tile) };
    train.metrics![`speedupVs_nn ${o.name}`] = oms.median / oursInterleaved;
  }
  for (const [j, t] of torch.entries()) {
    const tms = summarize(pair.theirs[others.length + j]!);
    (train.baselines ??= {})[t.name] = { ms: tms, samplesPerSecond: (rows * 1000) / tms.median, ...t.describe() };
    train.metrics![`speedupVs_${t.name}`] = tms.median / oursInterleaved;
    await t.free('x', 'teacher', 'labels');
  }
  return [
    train,
    {
      suite: 'train',
      name: 'mlp-inference',
      params: { widths: '784-800-800-10', batch: rows },
      ms: inferMs,
      flops: 2 * rows * macs,
      gflops: (2 * rows * macs) / (inferMs.median * 1e6),
      metrics: { samplesPerSecond: (rows * 1000) / inferMs.median },
    },
  ];
}

/** Peak pool bytes and time of the fused (chunked) linear + KD path against the unfused one; releases its tensors on every path. Exported for tests. */
export async function fusedLinearKd(
  ctx: BenchContext,
  rows: number,
  torch: TorchBaseline[],
  settings: MatmulSetting[],
): Promise<BenchResult> {
  return withHeld((hold) => measureFusedLinearKd(ctx, rows, torch, settings, hold));
}

async function measureFusedLinearKd(
  ctx: BenchContext,
  rows: number,
  torch: TorchBaseline[],
  settings: MatmulSetting[],
  hold: Hold,
): Promise<BenchResult> {
  const device = ctx.device!;
  const { width, vocab } = LINEAR_KD;
  const pool = bufferPool(device);
  const hiddenHost = pseudoRandom(rows * width, 5);
  const weightHost = pseudoRandom(vocab * width, 6).map((v) => v * 0.1);
  const teacherHost = pseudoRandom(rows * vocab, 7).map((v) => v * 8);
  const hidden = hold(uploadTensor(device, { shape: [rows, width], dtype: 'f32', data: hiddenHost }, 'hidden'));
  const weight = hold(uploadTensor(device, { shape: [vocab, width], dtype: 'f32', data: weightHost }, 'weight'));
  const teacher = {
    kind: 'dense' as const,
    logits: hold(uploadTensor(device, { shape: [rows, vocab], dtype: 'f32', data: teacherHost }, 'teacher')),
  };
  const gradHidden = hold(createTensor(device, { shape: [rows, width], dtype: 'f32', label: 'grad-hidden' }));
  const gradWeight = hold(zerosTensor(device, { shape: [vocab, width], dtype: 'f32', label: 'grad-weight' }));
  const kd = { temperature: 2, softWeight: 1, hardWeight: 0 };
  const runs = ctx.options.runs ? Number(ctx.options.runs) : ctx.quick ? 1 : 3;
  const measure = async (run: () => Promise<unknown>) => {
    await run(); // compiles the pipelines outside the timing
    const samples: number[] = [];
    let peak = 0;
    for (let i = 0; i < runs; i++) {
      pool.resetPeak();
      const base = pool.stats().bytesInUse;
      const start = performance.now();
      await run();
      samples.push(performance.now() - start);
      peak = Math.max(peak, pool.stats().peakBytesInUse - base);
    }
    return { ms: summarize(samples), peak };
  };
  const fused = await measure(() => fusedLinearKdLoss({ hidden, weight, teacher, kd, gradHidden, gradWeight }));
  const result: BenchResult = {
    suite: 'train',
    name: 'fused-linear-kd',
    params: { rows, vocab, hidden: width },
    ms: fused.ms,
    flops: 6 * rows * width * vocab,
    gflops: (6 * rows * width * vocab) / (fused.ms.median * 1e6),
    metrics: { peakBytes: fused.peak },
  };
  const logitsBytes = rows * vocab * 4;
  // The unfused path holds the whole [rows, V] logits and their gradient besides the fused path's buffers.
  const unfusedUnfit = caseUnfitReason(ctx, [...fusedLinearKdSpec(ctx, rows).buffers, logitsBytes, logitsBytes]);
  if (logitsBytes > device.limits.maxStorageBufferBindingSize) {
    // The unfused path needs the whole [rows, V] logits in one binding: it cannot run on this adapter.
    result.metrics!.unfusedLogitsBytes = logitsBytes;
    ctx.log(
      `fused-linear-kd ${rows}x${vocab}: unfused path needs a ${logitsBytes}-byte binding > limit ${device.limits.maxStorageBufferBindingSize}; fused only`,
    );
  } else if (unfusedUnfit) {
    result.metrics!.unfusedLogitsBytes = logitsBytes;
    ctx.log(`fused-linear-kd ${rows}x${vocab}: no unfused baseline (${unfusedUnfit}); fused only`);
  } else {
    const unfused = await measure(() => unfusedLinearKdLoss({ hidden, weight, teacher, kd, gradHidden, gradWeight }));
    result.baselines = { unfused: { ms: unfused.ms, peakBytes: unfused.peak } };
    result.metrics!.unfusedPeakBytes = unfused.peak;
    result.metrics!.memoryRatio = unfused.peak / fused.peak;
  }
  // Interleaved, one call each in turn: fused with the tuned matmul, fused with the alternatives
  // (before/after), and PyTorch (logits = hidden·weightᵀ, the same loss, autograd for both
  // gradients; ≤ 1,024 rows: with the reference BLAS a 4,096-row call takes minutes).
  const withTorch = rows <= 1024 ? torch : [];
  const others = settings.slice(1);
  if (others.length || withTorch.length) {
    const fusedWith = (tile: MatmulChoice) => async () => {
      setMatmulTile(device, tile);
      try {
        const start = performance.now();
        await fusedLinearKdLoss({ hidden, weight, teacher, kd, gradHidden, gradWeight });
        return performance.now() - start;
      } finally {
        setMatmulTile(device, settings[0]!.tile);
      }
    };
    const rss: number[] = withTorch.map(() => 0);
    for (const t of withTorch) {
      await t.load('hidden', hiddenHost, [rows, width]);
      await t.load('weight', weightHost, [vocab, width]);
      await t.load('teacher', teacherHost, [rows, vocab]);
    }
    const request = {
      op: 'linear-kd',
      hidden: 'hidden',
      weight: 'weight',
      teacher: 'teacher',
      T: kd.temperature,
      softWeight: kd.softWeight,
    };
    const pair = await interleaved(
      fusedWith(settings[0]!.tile),
      [
        ...others.map((o) => fusedWith(o.tile)),
        ...withTorch.map((t, j) => async () => {
          const answer = await t.time(request);
          rss[j] = Math.max(rss[j]!, answer.rssGrowthBytes as number);
          return answer.ms;
        }),
      ],
      runs,
    );
    const oursInterleaved = summarize(pair.ours).median;
    result.metrics!.msInterleaved = oursInterleaved;
    result.params.kernel = describeTile(settings[0]!.tile);
    for (const [j, o] of others.entries()) {
      const oms = summarize(pair.theirs[j]!);
      (result.baselines ??= {})[`nn ${o.name}`] = { ms: oms, kernel: describeTile(o.tile) };
      result.metrics![`speedupVs_nn ${o.name}`] = oms.median / oursInterleaved;
    }
    for (const [j, t] of withTorch.entries()) {
      const tms = summarize(pair.theirs[others.length + j]!);
      (result.baselines ??= {})[t.name] = { ms: tms, rssGrowthBytes: rss[j], ...t.describe() };
      result.metrics![`speedupVs_${t.name}`] = tms.median / oursInterleaved;
      await t.free('hidden', 'weight', 'teacher');
    }
  }
  return result;
}

/**
 * The matmul sweep (`--sizes` overrides): 256³ to 2,048³; on a GPU also 4,096³, a data-centre
 * layer's shape (a fraction of a second there, minutes on a CPU adapter, whose sweep — and the
 * committed lavapipe and SwiftShader results — stay as they were). No adapter known: the CPU sweep.
 */
export function matmulSizes(ctx: Pick<BenchContext, 'options' | 'quick' | 'adapter'>): number[] {
  if (ctx.options.sizes) return ctx.options.sizes.split(',').map(Number);
  if (ctx.quick) return [256, 1024];
  return !ctx.adapter || isCpuAdapter(ctx.adapter) ? [256, 1024, 2048] : [256, 1024, 2048, 4096];
}

function matmulSpec(size: number, settings: MatmulSetting[]): CaseSpec {
  return {
    suite: 'train',
    name: 'matmul',
    params: { M: size, N: size, K: size, dtype: 'f32', kernel: describeTile(settings[0]!.tile) },
    buffers: [size * size * 4, size * size * 4, size * size * 4],
  };
}

const LINEAR_KD = { width: 256, vocab: 32_000, chunkBytes: 16 << 20 };

/** Hidden, weight, teacher logits, both gradients, and one chunk's logits and teacher rows (white-box's default chunk). */
function fusedLinearKdSpec(ctx: BenchContext, rows: number): CaseSpec {
  const { width, vocab, chunkBytes } = LINEAR_KD;
  const chunk = Math.min(chunkBytes, rows * vocab * 4, ctx.device!.limits.maxStorageBufferBindingSize);
  return {
    suite: 'train',
    name: 'fused-linear-kd',
    params: { rows, vocab, hidden: width },
    buffers: [rows * width * 4, vocab * width * 4, rows * vocab * 4, rows * width * 4, vocab * width * 4, chunk, chunk],
  };
}

/** Every layer's weights four times (parameter, gradient, AdamW's two moments), the batch and its activations. */
function mlpSpec(settings: MatmulSetting[]): CaseSpec {
  const widths = [MLP.inputSize, ...MLP.hidden, MLP.classes];
  const rows = 128;
  const layers = widths.slice(1).map((out, i) => (widths[i]! + 1) * out * 4);
  return {
    suite: 'train',
    name: 'mlp-train-step',
    params: {
      widths: widths.join('-'),
      batch: rows,
      optimizer: 'adamw',
      loss: 'kd forward-kl T=4 + 0.1 hard',
      kernel: describeTile(settings[0]!.tile),
    },
    buffers: [...layers.flatMap((bytes) => [bytes, bytes, bytes, bytes]), ...widths.flatMap((w) => [rows * w * 4, rows * w * 4])],
  };
}

/**
 * Training building blocks of @distillery/nn: f32 matmul GFLOP/s against tfjs-backend-webgpu's
 * matMul on the same adapter in the same run, and the throughput of a full MLP training step
 * (forward, backward, AdamW with clipping) at 784-800-800-10, batch 128.
 */
export const trainSuite: BenchSuite = {
  name: 'train',
  description: 'nn matmul vs tfjs-webgpu matMul; MLP training samples/s with the KD loss vs tfjs',
  needsGpu: true,
  async run(ctx) {
    return withTorch(ctx.options, ctx.log, (torch) => runTrain(ctx, torch));
  },
};

async function runTrain(ctx: BenchContext, torch: TorchBaseline[]): Promise<BenchResult[]> {
  const settings = await matmulSettings(ctx);
  const torchNote = (r: BenchResult) =>
    torch
      .filter((t) => r.baselines?.[t.name])
      .map((t) => `; ${t.name} ${r.baselines![t.name]!.ms.median.toFixed(1)} ms (${r.metrics![`speedupVs_${t.name}`]!.toFixed(2)}×)`)
      .join('');
  const tfjs = await tfjsHandle();
  if (typeof tfjs === 'string') ctx.log(`tfjs-backend-webgpu unavailable, no baseline: ${tfjs}`);
  const results: BenchResult[] = [];
  // Each case's rows are recorded as soon as they exist (kept if a later case throws); the pool's
  // free buffers go after every case, whatever its outcome.
  const runCase = async (spec: CaseSpec, rows: Parameters<typeof guardedCases>[2], run: () => Promise<BenchResult[]>) => {
    try {
      const done = await guardedCases(ctx, spec, rows, run);
      for (const r of done) results.push(recordResult(ctx, r));
      return done;
    } finally {
      bufferPool(ctx.device!).trim();
    }
  };
  for (const size of matmulSizes(ctx)) {
    const spec = matmulSpec(size, settings);
    const r = (await runCase(spec, [spec], async () => [await matmulCase(ctx, size, tfjs, torch, settings)]))[0]!;
    if (r.skipped) continue;
    const base = r.baselines?.['tfjs-webgpu'];
    ctx.log(
      `matmul ${size}³: ${r.gflops!.toFixed(2)} GFLOP/s (median ${r.ms.median.toFixed(1)} ms)` +
        (base
          ? `; tfjs ${(base.gflops as number).toFixed(2)} GFLOP/s (${base.ms.median.toFixed(1)} ms) → ${r.metrics!.speedupVsTfjs!.toFixed(2)}× wall, ${r.metrics!.cpuEfficiencyVsTfjs!.toFixed(2)}× per CPU-second`
          : '') +
        torchNote(r),
    );
  }
  for (const rows of ctx.options['linear-rows'] ? ctx.options['linear-rows'].split(',').map(Number) : ctx.quick ? [512] : [512, 4096]) {
    const spec = fusedLinearKdSpec(ctx, rows);
    const r = (await runCase(spec, [spec], async () => [await fusedLinearKd(ctx, rows, torch, settings)]))[0]!;
    if (r.skipped) continue;
    ctx.log(
      `fused-linear-kd ${rows}x32000x256: ${r.ms.median.toFixed(0)} ms, peak ${(r.metrics!.peakBytes! / 2 ** 20).toFixed(1)} MiB` +
        (r.baselines?.unfused
          ? `; unfused ${r.baselines.unfused.ms.median.toFixed(0)} ms, peak ${(r.metrics!.unfusedPeakBytes! / 2 ** 20).toFixed(1)} MiB`
          : '') +
        torchNote(r),
    );
  }
  const mlp = mlpSpec(settings);
  const mlpRows = [mlp, { name: 'mlp-inference', params: { widths: mlp.params.widths!, batch: mlp.params.batch! } }];
  for (const r of await runCase(mlp, mlpRows, () => mlpTraining(ctx, tfjs, torch, settings))) {
    if (r.skipped) continue;
    const speedup = r.metrics!.speedupVsTfjs;
    ctx.log(
      `${r.name}: ${r.metrics!.samplesPerSecond!.toFixed(0)} samples/s (median ${r.ms.median.toFixed(1)} ms per batch of 128)${speedup ? `; ${speedup.toFixed(2)}x tfjs-webgpu` : ''}${torchNote(r)}`,
    );
  }
  return results;
}
