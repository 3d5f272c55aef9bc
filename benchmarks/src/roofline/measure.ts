import { CommandRecorder, createTensor, isCpuAdapter, recordCopy, type AdapterIdentity, type GpuTensor } from '@distillery/webgpu';
import type { BenchResult } from '../suite.js';
import { summarize } from '../timing.js';
import { streamCopyKernel, type StreamCopyVariant } from './copy-kernel.js';

/** The best streaming bandwidth measured on this adapter (and host), and every candidate's row. */
export interface Roofline {
  gbps: number;
  /** Which candidate it is (a result name + params, e.g. `copyBufferToBuffer` or `host-memcpy 2 workers`). */
  source: string;
  results: BenchResult[];
}

interface Candidate {
  name: string;
  params: BenchResult['params'];
  /** Bytes read plus bytes written by one call of `once`. */
  moved: number;
  /** Counts towards the roofline (in-cache host copies are shown, not used: kernels stream from memory). */
  roofline: boolean;
  once(): Promise<number>;
  close?(): Promise<void> | void;
}

const label = (c: Pick<Candidate, 'name' | 'params'>) =>
  `${c.name} ${Object.entries(c.params)
    .filter(([k]) => k !== 'bytes')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`.trim();

/**
 * Measures every candidate `runs` times, round-robin (load from other processes hits all alike),
 * after one untimed call each. GB/s counts one read and one write of the buffer per copy.
 */
/**
 * `host: false` leaves out the host-memcpy candidates (worker threads: Node only), e.g. in a page;
 * they are loaded only when used, so this module bundles for a browser.
 */
export async function measureRoofline(
  device: GPUDevice,
  info: AdapterIdentity,
  { bytes, runs, quick, host = true }: { bytes: number; runs: number; quick: boolean; host?: boolean },
): Promise<Roofline> {
  const words = bytes / 4;
  const src = createTensor(device, { shape: [words], dtype: 'u32', label: 'bandwidth-src' });
  const dst = createTensor(device, { shape: [words], dtype: 'u32', label: 'bandwidth-dst' });
  // Several copies per submit so that submit and fence latency do not count as copy time.
  const reps = quick ? 2 : 4;
  const candidates: Candidate[] = [];
  const gpuOnce = (record: (recorder: CommandRecorder) => void) => async () => {
    const recorder = new CommandRecorder(device, 'bandwidth');
    for (let i = 0; i < reps; i++) record(recorder);
    const start = performance.now();
    await recorder.submit();
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  candidates.push({
    name: 'wgsl-copy',
    params: { bytes, layout: 'one-vec4-per-thread', workgroups: Math.ceil(words / 4 / 256) },
    moved: 2 * bytes * reps,
    roofline: true,
    once: gpuOnce((r) => recordCopy(r, src, dst)),
  });
  const variants: Array<[StreamCopyVariant, number]> = quick
    ? [
        [{ layout: 'grid-stride', unroll: 4, workgroupSize: 256 }, 256],
        [{ layout: 'blocked', unroll: 4, workgroupSize: 64 }, 64],
      ]
    : [
        ...[128, 256, 512, 2048].flatMap((wg): Array<[StreamCopyVariant, number]> => [
          [{ layout: 'grid-stride', unroll: 1, workgroupSize: 256 }, wg],
          [{ layout: 'grid-stride', unroll: 4, workgroupSize: 256 }, wg],
        ]),
        [{ layout: 'blocked', unroll: 4, workgroupSize: 64 }, 16],
        [{ layout: 'blocked', unroll: 4, workgroupSize: 64 }, 64],
        [{ layout: 'blocked', unroll: 4, workgroupSize: 256 }, 128],
      ];
  for (const [variant, workgroups] of variants) {
    candidates.push({
      name: 'wgsl-copy',
      params: { bytes, layout: variant.layout, unroll: variant.unroll, workgroupSize: variant.workgroupSize, workgroups },
      moved: 2 * bytes * reps,
      roofline: true,
      once: gpuOnce((r) =>
        streamCopyKernel.record(r, variant, {
          uniforms: { count: words / 4 },
          bindings: { src, dst },
          workgroups: [workgroups],
          label: 'bandwidth stream-copy',
        }),
      ),
    });
  }
  candidates.push({
    name: 'copyBufferToBuffer',
    params: { bytes },
    moved: 2 * bytes * reps,
    roofline: true,
    async once() {
      const encoder = device.createCommandEncoder({ label: 'bandwidth copyBufferToBuffer' });
      for (let i = 0; i < reps; i++) encoder.copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, bytes);
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - start;
    },
  });
  if (host && isCpuAdapter(info)) {
    const { HostCopyPool } = await import('./host-memcpy.js');
    for (const workers of [1, 2]) {
      const pool = new HostCopyPool(workers, bytes);
      candidates.push({
        name: 'host-memcpy',
        params: { bytes, workers },
        moved: 2 * pool.bytes,
        roofline: true,
        once: () => pool.once(),
        close: () => pool.close(),
      });
    }
    // In cache (1 MiB per repetition, 64 repetitions): what the cores reach when data fits, for reference.
    const cached = new HostCopyPool(2, 1 << 20, 64);
    candidates.push({
      name: 'host-memcpy',
      params: { bytes: 1 << 20, workers: 2, inCache: true },
      moved: 2 * cached.bytes,
      roofline: false,
      once: () => cached.once(),
      close: () => cached.close(),
    });
  }
  const samples: number[][] = candidates.map(() => []);
  try {
    for (const c of candidates) await c.once();
    for (let run = 0; run < runs; run++) {
      for (const [i, c] of candidates.entries()) samples[i]!.push(await c.once());
    }
  } finally {
    await Promise.all(candidates.map((c) => c.close?.()));
    release(src, dst);
  }
  const results: BenchResult[] = candidates.map((c, i) => {
    const ms = summarize(samples[i]!);
    return { suite: 'bandwidth', name: c.name, params: c.params, ms, bytes: c.moved, gbps: c.moved / (ms.median * 1e6) };
  });
  let best = -1;
  results.forEach((r, i) => {
    if (candidates[i]!.roofline && (best < 0 || r.gbps! > results[best]!.gbps!)) best = i;
  });
  const roofline = { gbps: results[best]!.gbps!, source: label(candidates[best]!) };
  for (const [i, r] of results.entries())
    r.metrics = { ratioToRoofline: r.gbps! / roofline.gbps, ...(candidates[i]!.roofline ? {} : { excludedFromRoofline: 1 }) };
  results.push({
    suite: 'bandwidth',
    name: 'roofline',
    params: { source: roofline.source },
    ms: results[best]!.ms,
    bytes: results[best]!.bytes,
    gbps: roofline.gbps,
  });
  return { ...roofline, results };
}

function release(...tensors: GpuTensor[]): void {
  for (const t of tensors) t.release();
}
