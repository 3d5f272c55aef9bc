import type { TorchBaseline } from './torch.js';

/**
 * Starts the PyTorch baselines for a suite, runs `fn`, and always closes them. The child-process
 * side (torch.ts, Node only) is loaded only when torch rows are wanted, so the suites still bundle
 * for a page (`distillery-bench --browser` passes `no-torch`).
 */
export async function withTorch<R>(
  options: Record<string, string>,
  log: (line: string) => void,
  fn: (baselines: TorchBaseline[]) => Promise<R>,
): Promise<R> {
  const baselines = options['no-torch'] ? [] : await (await import('./torch.js')).TorchBaseline.start(options, log);
  try {
    return await fn(baselines);
  } finally {
    await Promise.all(baselines.map((b) => b.close()));
  }
}

/**
 * Alternates one call of ours with one of each baseline's, `runs` times after a warm-up of each, so
 * that load from other processes hits all alike; returns the samples of each side.
 */
export async function interleaved(
  ours: () => Promise<number>,
  theirs: Array<() => Promise<number>>,
  runs: number,
): Promise<{ ours: number[]; theirs: number[][] }> {
  await ours();
  for (const t of theirs) await t();
  const result = { ours: [] as number[], theirs: theirs.map(() => [] as number[]) };
  for (let i = 0; i < runs; i++) {
    result.ours.push(await ours());
    for (const [j, t] of theirs.entries()) result.theirs[j]!.push(await t());
  }
  return result;
}
