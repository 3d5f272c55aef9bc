import type { MsStats } from './suite.js';

export function summarize(samples: readonly number[]): MsStats {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** Times an async function on the host clock: `warmup` untimed calls, then `runs` timed ones. */
export async function timeHost(fn: () => unknown | Promise<unknown>, { warmup = 1, runs = 5 } = {}): Promise<MsStats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}
