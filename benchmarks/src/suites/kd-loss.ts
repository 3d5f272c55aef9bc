import { recordKdLoss } from '@distillery/kernels';
import { bufferPool, CommandRecorder, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { cpuKdLoss } from '../baselines/cpu.js';
import { gpuLogits, hostRows, scaledToRows } from '../baselines/data.js';
import type { TorchBaseline } from '../baselines/torch.js';
import { interleaved, withTorch } from '../baselines/torch-run.js';
import { loadTfjs, tfjsKdLoss, tfjsSync } from '../baselines/tfjs.js';
import type { Roofline } from '../roofline/measure.js';
import { recordResult, type BenchContext, type BenchResult, type BenchSuite, type MsStats } from '../suite.js';
import { guardedCase, type CaseSpec } from '../case-guard.js';
import { summarize } from '../timing.js';
import { kdLossRowName, kdLossVariant, kdLossVariantParams, type KdLossVariant } from './kd-loss-variant.js';

const WEIGHTS = { softWeight: 0.5, hardWeight: 0.5 };
const HOST_SKIP = 'they compute forward and reverse KL, not JSD (PyTorch does)';
/** Baselines run on at most this many elements per input; larger batches are timed on fewer rows and scaled (marked). */
const TFJS_MAX = 33_000_000;
const CPU_MAX = 8_300_000;
const TORCH_MAX = 33_000_000;

export const numberList = (text: string | undefined, fallback: number[]) =>
  text ? text.split(',').map((s) => Number(s.trim())) : fallback;

export function shapesFor(ctx: BenchContext): { rows: number[]; vocabs: number[]; dtypes: Array<'f32' | 'f16'> } {
  const device = ctx.device!;
  const rows = numberList(ctx.options.rows, ctx.quick ? [64] : [64, 1024, 4096]);
  const vocabs = numberList(ctx.options.vocab, ctx.quick ? [32_000] : [32_000, 128_256]);
  const offered: Array<'f32' | 'f16'> = device.features.has('shader-f16') ? ['f32', 'f16'] : ['f32'];
  const dtypes = ctx.options.dtype ? offered.filter((d) => ctx.options.dtype!.split(',').includes(d)) : offered;
  return { rows, vocabs, dtypes };
}

/** Runs `fn` `runs` times after one warm-up; returns the stats of what it reports (or of wall-clock). */
export async function sample(runs: number, fn: () => Promise<number>): Promise<MsStats> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await fn());
  return summarize(samples);
}

/**
 * Runs `one` for every dtype × vocab × rows of the sweep that fits the device (`spec` names the
 * case and its buffers; see case-guard.ts), trimming the pool between cases. Each result is
 * recorded as soon as it exists (`ctx.record`): a case that throws later keeps the earlier ones.
 */
export async function sweepShapes(
  ctx: BenchContext,
  spec: (rows: number, vocab: number, dtype: 'f32' | 'f16') => CaseSpec,
  one: (rows: number, vocab: number, dtype: 'f32' | 'f16') => Promise<BenchResult>,
): Promise<BenchResult[]> {
  const { rows: rowsList, vocabs, dtypes } = shapesFor(ctx);
  const results: BenchResult[] = [];
  for (const dtype of dtypes) {
    for (const vocab of vocabs) {
      for (const rows of rowsList) {
        try {
          results.push(recordResult(ctx, await guardedCase(ctx, spec(rows, vocab, dtype), () => one(rows, vocab, dtype))));
        } finally {
          bufferPool(ctx.device!).trim();
        }
      }
    }
  }
  return results;
}

/**
 * The row suites' run (kd-loss, softmax): the run's roofline and PyTorch (when present) handed to
 * every case of `sweepShapes`.
 */
export async function sweepWithBaselines(
  ctx: BenchContext,
  spec: (rows: number, vocab: number, dtype: 'f32' | 'f16', roofline: Roofline) => CaseSpec,
  one: (rows: number, vocab: number, dtype: 'f32' | 'f16', roofline: Roofline, torch: TorchBaseline[]) => Promise<BenchResult>,
): Promise<BenchResult[]> {
  const roofline = await ctx.roofline!();
  ctx.log(`roofline ${roofline.gbps.toFixed(2)} GB/s (${roofline.source})`);
  return withTorch(ctx.options, ctx.log, (torch) =>
    sweepShapes(
      ctx,
      (rows, vocab, dtype) => spec(rows, vocab, dtype, roofline),
      (rows, vocab, dtype) => one(rows, vocab, dtype, roofline, torch),
    ),
  );
}

export const runsFor = (elements: number, quick: boolean) => (quick ? 3 : elements > 200_000_000 ? 3 : 5);

export const kdLossSuite: BenchSuite = {
  name: 'kd-loss',
  description:
    'Fused KD loss (forward KL at T=2 ×T² unless --divergence/--temperature) + cross-entropy, loss and gradient, vs tfjs-webgpu ops, PyTorch and a CPU loop',
  needsGpu: true,
  async run(ctx) {
    const variant = kdLossVariant(ctx.options);
    if (variant.divergence === 'jsd') ctx.log(`kd-loss: tfjs and cpu-loop baselines skipped: ${HOST_SKIP}`);
    return sweepWithBaselines(
      ctx,
      (rows, vocab, dtype, roofline) => kdLossCase(rows, vocab, dtype, roofline, variant),
      (rows, vocab, dtype, roofline, torch) => benchOne(ctx, ctx.device!, roofline, torch, variant, rows, vocab, dtype),
    );
  },
};

/** The case's name and parameters, and its buffers: student and teacher logits, the gradient, labels and three per-row terms. */
function kdLossCase(rows: number, vocab: number, dtype: 'f32' | 'f16', roofline: Roofline, variant: KdLossVariant): CaseSpec {
  const logits = rows * vocab * (dtype === 'f16' ? 2 : 4);
  return {
    suite: 'kd-loss',
    name: kdLossRowName(variant),
    params: { rows, vocab, dtype, ...kdLossVariantParams(variant), roofline: roofline.source },
    buffers: [logits, logits, logits, rows * 4, rows * 4 * 3],
  };
}

/** Fills the inputs on the GPU, measures, and releases them whatever happens (a case after an out-of-memory skip needs the memory). */
async function benchOne(
  ctx: BenchContext,
  device: GPUDevice,
  roofline: Roofline,
  torch: TorchBaseline[],
  variant: KdLossVariant,
  rows: number,
  vocab: number,
  dtype: 'f32' | 'f16',
): Promise<BenchResult> {
  const tensors: GpuTensor[] = [];
  try {
    const z = await gpuLogits(device, rows, vocab, dtype, 1, 3, 'student');
    tensors.push(z);
    const t = await gpuLogits(device, rows, vocab, dtype, 2, 3, 'teacher');
    tensors.push(t);
    const labelData = Int32Array.from({ length: rows }, (_, r) => (r * 7919 + 13) % vocab);
    const labels = uploadTensor(device, { shape: [rows], dtype: 'i32', data: labelData }, 'labels');
    tensors.push(labels);
    return await measureKdLoss(ctx, device, roofline, torch, variant, { rows, vocab, dtype, z, t, labels, labelData });
  } finally {
    release(...tensors);
  }
}

interface KdLossInputs {
  rows: number;
  vocab: number;
  dtype: 'f32' | 'f16';
  z: GpuTensor;
  t: GpuTensor;
  labels: GpuTensor;
  labelData: Int32Array;
}

async function measureKdLoss(
  ctx: BenchContext,
  device: GPUDevice,
  roofline: Roofline,
  torch: TorchBaseline[],
  variant: KdLossVariant,
  { rows, vocab, dtype, z, t, labels, labelData }: KdLossInputs,
): Promise<BenchResult> {
  const elements = rows * vocab;
  const hyper = { temperature: variant.temperature, ...WEIGHTS };
  const options = {
    studentLogits: z,
    teacher: { kind: 'dense' as const, logits: t },
    labels,
    ...hyper,
    divergence: variant.divergence,
    ...(variant.beta !== undefined ? { beta: variant.beta } : {}),
    check: 'lazy' as const,
  };
  // The tfjs and CPU-loop baselines know forward and reverse KL; JSD is timed against PyTorch only (run() logs it).
  const hostDivergence = variant.divergence === 'jsd' ? undefined : variant.divergence;
  const runs = runsFor(elements, ctx.quick);

  // Fused: GPU time of the whole dispatch chain (timestamp queries), and wall-clock record → done.
  let fusedTotal = Number.NaN;
  const gpu = await sample(runs, async () => {
    const recorder = new CommandRecorder(device, 'bench-kd-loss');
    const result = recordKdLoss(recorder, options);
    const { ms } = await recorder.submitTimed();
    fusedTotal = await result.total();
    result.release();
    return ms;
  });
  const wallOnce = async () => {
    const start = performance.now();
    const recorder = new CommandRecorder(device, 'bench-kd-loss');
    const result = recordKdLoss(recorder, options);
    await recorder.submit();
    await device.queue.onSubmittedWorkDone();
    const ms = performance.now() - start;
    result.release();
    return ms;
  };
  const wall = await sample(runs, wallOnce);

  const bytesPer = dtype === 'f16' ? 2 : 4;
  // One read of each input (student, teacher, labels), one write of each output (gradient, three per-row terms).
  const bytes = elements * bytesPer * 3 + rows * 4 + rows * 4 * 3;
  const gbps = bytes / (gpu.median * 1e6);

  const baselines: NonNullable<BenchResult['baselines']> = {};
  const metrics: Record<string, number> = { rooflineGBps: roofline.gbps, ratioToRoofline: gbps / roofline.gbps, wallMs: wall.median };

  // tfjs-webgpu composition (f32: its WebGPU backend has no f16 tensors), on the same adapter.
  if (hostDivergence) {
    try {
      const tf = await loadTfjs();
      const subRows = Math.max(1, Math.min(rows, Math.floor(TFJS_MAX / vocab)));
      const zt = tf.tensor2d(await hostRows(z, subRows), [subRows, vocab]);
      const tt = tf.tensor2d(await hostRows(t, subRows), [subRows, vocab]);
      const lt = tf.tensor1d(labelData.subarray(0, subRows), 'int32');
      let tfLoss = Number.NaN;
      const tfRuns = subRows * vocab > 10_000_000 ? 2 : 3;
      const stats = await sample(tfRuns, async () => {
        const start = performance.now();
        const [loss, grad] = tfjsKdLoss(tf, zt, tt, lt, { ...hyper, divergence: hostDivergence });
        await tfjsSync(tf);
        const ms = performance.now() - start;
        tfLoss = (await loss.data())[0]!;
        loss.dispose();
        grad.dispose();
        return ms;
      });
      zt.dispose();
      tt.dispose();
      lt.dispose();
      const tfjs = scaledToRows(stats, rows, subRows);
      baselines['tfjs-webgpu'] = tfjs;
      metrics.speedupVsTfjs = tfjs.ms.median / gpu.median;
      metrics.speedupVsTfjsWall = tfjs.ms.median / wall.median;
      if (subRows === rows && Number.isFinite(fusedTotal)) metrics.lossRelDiffVsTfjs = Math.abs(tfLoss - fusedTotal) / Math.abs(tfLoss);
    } catch (error) {
      ctx.log(`tfjs baseline skipped: ${(error as Error).message}`);
    }
  }

  // PyTorch on the CPU (f32 only: its CPU f16 softmax is no baseline), one call of ours, one of each PyTorch, in turn.
  if (torch.length && dtype === 'f32') {
    const subRows = Math.max(1, Math.min(rows, Math.floor(TORCH_MAX / vocab)));
    const scale = rows / subRows;
    try {
      const zh = await hostRows(z, subRows);
      const th = await hostRows(t, subRows);
      const losses: number[] = [];
      for (const b of torch) {
        await b.load('z', zh, [subRows, vocab]);
        await b.load('t', th, [subRows, vocab]);
        await b.load('labels', labelData.subarray(0, subRows), [subRows]);
      }
      const request = {
        op: 'kd-loss',
        z: 'z',
        t: 't',
        labels: 'labels',
        T: variant.temperature,
        softWeight: WEIGHTS.softWeight,
        hardWeight: WEIGHTS.hardWeight,
        divergence: variant.divergence,
        ...(variant.beta !== undefined ? { beta: variant.beta } : {}),
      };
      const pair = await interleaved(
        wallOnce,
        torch.map((b, i) => async () => {
          const answer = await b.time(request);
          losses[i] = answer.loss as number;
          return answer.ms * scale;
        }),
        runsFor(elements, ctx.quick),
      );
      const oursWall = summarize(pair.ours).median;
      metrics.wallMsInterleaved = oursWall;
      for (const [i, b] of torch.entries()) {
        const stats = summarize(pair.theirs[i]!);
        baselines[b.name] = { ms: stats, ...b.describe(), ...(scale !== 1 ? { extrapolatedFromRows: subRows } : {}) };
        metrics[`speedupVs_${b.name}`] = stats.median / oursWall;
        if (scale === 1 && Number.isFinite(fusedTotal))
          metrics[`lossRelDiffVs_${b.name}`] = Math.abs(losses[i]! - fusedTotal) / Math.abs(losses[i]!);
        await b.free('z', 't', 'labels');
      }
    } catch (error) {
      ctx.log(`pytorch baseline failed: ${(error as Error).message}`);
    }
  }

  // Plain TypeScript loop on the CPU.
  if (hostDivergence) {
    const cpuRows = Math.max(1, Math.min(rows, Math.floor(CPU_MAX / vocab)));
    const zh = await hostRows(z, cpuRows);
    const th = await hostRows(t, cpuRows);
    const grad = new Float32Array(cpuRows * vocab);
    let cpuLoss = Number.NaN;
    const cpu = await sample(cpuRows * vocab > 4_000_000 ? 1 : 3, async () => {
      const start = performance.now();
      cpuLoss = cpuKdLoss(zh, th, labelData, cpuRows, vocab, { ...hyper, divergence: hostDivergence }, grad);
      return performance.now() - start;
    });
    const cpuLoop = scaledToRows(cpu, rows, cpuRows);
    baselines['cpu-loop'] = cpuLoop;
    metrics.speedupVsCpu = cpuLoop.ms.median / gpu.median;
    if (cpuRows === rows && Number.isFinite(fusedTotal)) metrics.lossRelDiffVsCpu = Math.abs(cpuLoss - fusedTotal) / Math.abs(cpuLoss);
  }

  ctx.log(
    `kd-loss ${kdLossRowName(variant)} T=${variant.temperature} ${dtype} ${rows}×${vocab}: ${gpu.median.toFixed(2)} ms GPU (${wall.median.toFixed(2)} ms wall), ${gbps.toFixed(2)} GB/s = ${(100 * metrics.ratioToRoofline!).toFixed(1)}% of the roofline; ` +
      torch
        .filter((b) => baselines[b.name])
        .map((b) => `${b.name} ${baselines[b.name]!.ms.median.toFixed(1)} ms (${metrics[`speedupVs_${b.name}`]!.toFixed(2)}× vs wall), `)
        .join('') +
      `tfjs ${baselines['tfjs-webgpu'] ? `${baselines['tfjs-webgpu'].ms.median.toFixed(1)} ms (${metrics.speedupVsTfjs!.toFixed(1)}×)` : 'skipped'}, cpu ${baselines['cpu-loop'] ? `${baselines['cpu-loop'].ms.median.toFixed(1)} ms (${metrics.speedupVsCpu!.toFixed(1)}×)` : 'skipped'}`,
  );
  return {
    suite: 'kd-loss',
    name: kdLossRowName(variant),
    params: { rows, vocab, dtype, ...kdLossVariantParams(variant), roofline: roofline.source },
    ms: gpu,
    bytes,
    gbps,
    metrics,
    baselines,
  };
}

function release(...tensors: GpuTensor[]): void {
  for (const t of tensors) t.release();
}
