import { CommandRecorder, createTensor, recordCopy } from '@distillery/webgpu';
import type { BenchResult, BenchSuite } from '../suite.js';
import { summarize } from '../timing.js';

/**
 * Streaming copy bandwidth: the roofline every memory-bound kernel is compared to.
 * GB/s counts one read and one write of the buffer per copy.
 */
export async function measureCopyBandwidth(device: GPUDevice, bytes: number, runs: number): Promise<BenchResult> {
  const words = bytes / 4;
  const src = createTensor(device, { shape: [words], dtype: 'u32', label: 'bandwidth-src' });
  const dst = createTensor(device, { shape: [words], dtype: 'u32', label: 'bandwidth-dst' });
  const once = async () => {
    const recorder = new CommandRecorder(device, 'bandwidth-copy');
    recordCopy(recorder, src, dst);
    return (await recorder.submitTimed()).ms;
  };
  await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  src.release();
  dst.release();
  const ms = summarize(samples);
  const moved = 2 * bytes;
  return { suite: 'bandwidth', name: 'copy', params: { bytes }, ms, bytes: moved, gbps: moved / (ms.median * 1e6) };
}

export const bandwidthSuite: BenchSuite = {
  name: 'bandwidth',
  description: 'Streaming copy bandwidth of the adapter (the roofline for memory-bound kernels)',
  needsGpu: true,
  async run(ctx) {
    const sizes = ctx.quick ? [16 << 20] : [16 << 20, 64 << 20];
    const results: BenchResult[] = [];
    for (const bytes of sizes) {
      const result = await measureCopyBandwidth(ctx.device!, bytes, ctx.quick ? 3 : 10);
      ctx.log(`copy ${bytes >> 20} MiB: ${result.gbps!.toFixed(2)} GB/s (median ${result.ms.median.toFixed(2)} ms)`);
      results.push(result);
    }
    return results;
  },
};
