import { recordTemperedSoftmax } from '@distillery/kernels';
import { CommandRecorder, type GpuTensor } from '@distillery/webgpu';
import { cpuSoftmax } from '../baselines/cpu.js';
import { gpuLogits, hostRows, scaledToRows } from '../baselines/data.js';
import type { TorchBaseline } from '../baselines/torch.js';
import { interleaved } from '../baselines/torch-run.js';
import { summarize } from '../timing.js';
import { loadTfjs, tfjsSoftmax, tfjsSync } from '../baselines/tfjs.js';
import type { Roofline } from '../roofline/measure.js';
import type { BenchContext, BenchResult, BenchSuite } from '../suite.js';
import type { CaseSpec } from '../case-guard.js';
import { runsFor, sample, sweepWithBaselines } from './kd-loss.js';

const TEMPERATURE = 2;
const TFJS_MAX = 33_000_000;
const CPU_MAX = 8_300_000;

export const softmaxSuite: BenchSuite = {
  name: 'softmax',
  description: 'Tempered softmax (T=2) over rows vs tfjs-webgpu softmax and a CPU loop',
  needsGpu: true,
  async run(ctx) {
    return sweepWithBaselines(ctx, softmaxCase, (rows, vocab, dtype, roofline, torch) =>
      benchOne(ctx, ctx.device!, roofline, torch, rows, vocab, dtype),
    );
  },
};

/** The case's name and parameters, and its buffers: the logits and the probabilities. */
function softmaxCase(rows: number, vocab: number, dtype: 'f32' | 'f16', roofline: Roofline): CaseSpec {
  const bytes = rows * vocab * (dtype === 'f16' ? 2 : 4);
  return {
    suite: 'softmax',
    name: 'tempered softmax',
    params: { rows, vocab, dtype, T: TEMPERATURE, roofline: roofline.source },
    buffers: [bytes, bytes],
  };
}

/** Fills the logits on the GPU, measures, and releases them whatever happens. */
async function benchOne(
  ctx: BenchContext,
  device: GPUDevice,
  roofline: Roofline,
  torch: TorchBaseline[],
  rows: number,
  vocab: number,
  dtype: 'f32' | 'f16',
): Promise<BenchResult> {
  const z = await gpuLogits(device, rows, vocab, dtype, 3, 3, 'logits');
  try {
    return await measureSoftmax(ctx, device, roofline, torch, z);
  } finally {
    z.release();
  }
}

async function measureSoftmax(
  ctx: BenchContext,
  device: GPUDevice,
  roofline: Roofline,
  torch: TorchBaseline[],
  z: GpuTensor,
): Promise<BenchResult> {
  const [rows, vocab] = z.shape as [number, number];
  const dtype = z.dtype as 'f32' | 'f16';
  const elements = rows * vocab;
  const runs = runsFor(elements, ctx.quick);
  const gpu = await sample(runs, async () => {
    const recorder = new CommandRecorder(device, 'bench-softmax');
    const { output, releaseScratch } = recordTemperedSoftmax(recorder, z, { temperature: TEMPERATURE });
    const { ms } = await recorder.submitTimed();
    releaseScratch();
    output.release();
    return ms;
  });
  const wallOnce = async () => {
    const start = performance.now();
    const recorder = new CommandRecorder(device, 'bench-softmax');
    const { output, releaseScratch } = recordTemperedSoftmax(recorder, z, { temperature: TEMPERATURE });
    await recorder.submit();
    await device.queue.onSubmittedWorkDone();
    const ms = performance.now() - start;
    releaseScratch();
    output.release();
    return ms;
  };
  const wall = await sample(runs, wallOnce);
  const bytesPer = dtype === 'f16' ? 2 : 4;
  const bytes = 2 * elements * bytesPer;
  const gbps = bytes / (gpu.median * 1e6);
  const metrics: Record<string, number> = { rooflineGBps: roofline.gbps, ratioToRoofline: gbps / roofline.gbps, wallMs: wall.median };
  const baselines: NonNullable<BenchResult['baselines']> = {};

  try {
    const tf = await loadTfjs();
    const subRows = Math.max(1, Math.min(rows, Math.floor(TFJS_MAX / vocab)));
    const zt = tf.tensor2d(await hostRows(z, subRows), [subRows, vocab]);
    const stats = await sample(subRows * vocab > 10_000_000 ? 2 : 3, async () => {
      const start = performance.now();
      const out = tfjsSoftmax(tf, zt, TEMPERATURE);
      await tfjsSync(tf);
      const ms = performance.now() - start;
      out.dispose();
      return ms;
    });
    zt.dispose();
    const tfjs = scaledToRows(stats, rows, subRows);
    baselines['tfjs-webgpu'] = tfjs;
    metrics.speedupVsTfjs = tfjs.ms.median / gpu.median;
    metrics.speedupVsTfjsWall = tfjs.ms.median / wall.median;
  } catch (error) {
    ctx.log(`tfjs baseline skipped: ${(error as Error).message}`);
  }

  // PyTorch on the CPU (f32), interleaved call by call with ours.
  if (torch.length && dtype === 'f32') {
    const subRows = Math.max(1, Math.min(rows, Math.floor(TFJS_MAX / vocab)));
    const scale = rows / subRows;
    try {
      const zh = await hostRows(z, subRows);
      for (const b of torch) await b.load('z', zh, [subRows, vocab]);
      const pair = await interleaved(
        wallOnce,
        torch.map((b) => async () => (await b.time({ op: 'softmax', z: 'z', T: TEMPERATURE })).ms * scale),
        runs,
      );
      const oursWall = summarize(pair.ours).median;
      metrics.wallMsInterleaved = oursWall;
      for (const [i, b] of torch.entries()) {
        const stats = summarize(pair.theirs[i]!);
        baselines[b.name] = { ms: stats, ...b.describe(), ...(scale !== 1 ? { extrapolatedFromRows: subRows } : {}) };
        metrics[`speedupVs_${b.name}`] = stats.median / oursWall;
        await b.free('z');
      }
    } catch (error) {
      ctx.log(`pytorch baseline failed: ${(error as Error).message}`);
    }
  }

  const cpuRows = Math.max(1, Math.min(rows, Math.floor(CPU_MAX / vocab)));
  const zh = await hostRows(z, cpuRows);
  const out = new Float32Array(cpuRows * vocab);
  const cpu = await sample(cpuRows * vocab > 4_000_000 ? 1 : 3, async () => {
    const start = performance.now();
    cpuSoftmax(zh, cpuRows, vocab, TEMPERATURE, out);
    return performance.now() - start;
  });
  const cpuLoop = scaledToRows(cpu, rows, cpuRows);
  baselines['cpu-loop'] = cpuLoop;
  metrics.speedupVsCpu = cpuLoop.ms.median / gpu.median;
  ctx.log(
    `softmax ${dtype} ${rows}×${vocab}: ${gpu.median.toFixed(2)} ms GPU, ${gbps.toFixed(2)} GB/s = ${(100 * metrics.ratioToRoofline!).toFixed(1)}% of the roofline; ` +
      torch
        .filter((b) => baselines[b.name])
        .map((b) => `${b.name} ${baselines[b.name]!.ms.median.toFixed(1)} ms (${metrics[`speedupVs_${b.name}`]!.toFixed(2)}× vs wall), `)
        .join('') +
      `tfjs ${baselines['tfjs-webgpu'] ? `${baselines['tfjs-webgpu'].ms.median.toFixed(1)} ms (${metrics.speedupVsTfjs!.toFixed(1)}×)` : 'skipped'}, cpu ${baselines['cpu-loop'].ms.median.toFixed(1)} ms (${metrics.speedupVsCpu.toFixed(1)}×)`,
  );
  return {
    suite: 'softmax',
    name: 'tempered softmax',
    params: { rows, vocab, dtype, T: TEMPERATURE, roofline: roofline.source },
    ms: gpu,
    bytes,
    gbps,
    metrics,
    baselines,
  };
}
