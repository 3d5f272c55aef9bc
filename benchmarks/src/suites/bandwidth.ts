import type { BenchSuite } from '../suite.js';

/**
 * The roofline every memory-bound kernel is compared to: the best of several WGSL copies (one vec4
 * per thread; grid-stride and blocked loops over a few workgroup counts), WebGPU's own
 * `copyBufferToBuffer`, and, when the adapter is a CPU rasteriser, the host's memcpy with 1 and 2
 * worker threads. The runner measures it once per run; this suite reports every candidate.
 */
export const bandwidthSuite: BenchSuite = {
  name: 'bandwidth',
  description: 'Streaming bandwidth: best of WGSL copies, copyBufferToBuffer and (CPU adapters) host memcpy — the roofline',
  needsGpu: true,
  async run(ctx) {
    const roofline = await ctx.roofline!();
    for (const r of roofline.results) {
      if (r.name === 'roofline') continue;
      ctx.log(
        `${r.name} ${Object.entries(r.params)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}: ${r.gbps!.toFixed(2)} GB/s (median ${r.ms.median.toFixed(2)} ms)`,
      );
    }
    ctx.log(`roofline: ${roofline.gbps.toFixed(2)} GB/s from ${roofline.source}`);
    return roofline.results;
  },
};
