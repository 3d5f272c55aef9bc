/**
 * Runs one benchmark case only when its buffers fit the device (fit.ts), and inside an
 * out-of-memory error scope, so that a case too big for this adapter becomes a result marked
 * `skipped` instead of a crash that loses the whole run.
 */
import { bufferPool } from '@distillery/webgpu';
import { unfitReason } from './fit.js';
import type { BenchContext, BenchResult } from './suite.js';

/** What a case is called and the byte sizes of the GPU buffers it allocates at once. */
export interface CaseSpec {
  suite: string;
  name: string;
  params: BenchResult['params'];
  /** The buffers the case's own kernels hold at the same time (inputs, outputs, the big scratch). */
  buffers: readonly number[];
}

/** The record of a case that was not run. */
export function skippedResult(spec: Pick<CaseSpec, 'suite' | 'name' | 'params'>, reason: string): BenchResult {
  return { suite: spec.suite, name: spec.name, params: spec.params, ms: { median: 0, min: 0, max: 0, runs: 0 }, skipped: reason };
}

/** Why the case cannot run on `ctx.device` under `ctx.memoryBudget`, or undefined. */
export function caseUnfitReason(ctx: BenchContext, buffers: readonly number[]): string | undefined {
  return unfitReason(buffers, { maxBufferSize: ctx.device!.limits.maxBufferSize, budget: ctx.memoryBudget });
}

const describe = (spec: CaseSpec) =>
  `${spec.suite} ${spec.name} ${Object.entries(spec.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

function isOutOfMemory(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if ((error as { code?: unknown }).code === 'E_GPU_OOM') return true;
  // createBuffer with mappedAtCreation throws a RangeError when the mapping cannot be allocated.
  return error instanceof RangeError && /alloc|memory/i.test(error.message);
}

/**
 * `run()` when the case fits, else a skipped result (logged). An out-of-memory error while it runs
 * (the scope's, or a kernel's E_GPU_OOM) also makes it skipped; any other error propagates.
 */
export async function guardedCase(ctx: BenchContext, spec: CaseSpec, run: () => Promise<BenchResult>): Promise<BenchResult> {
  const [result] = await guardedCases(ctx, spec, [spec], async () => [await run()]);
  return result!;
}

/**
 * `guardedCase` for a case that reports several rows (`rows`: their names and parameters, used for
 * the skipped records), sharing one set of buffers.
 */
export async function guardedCases(
  ctx: BenchContext,
  spec: CaseSpec,
  rows: ReadonlyArray<Pick<CaseSpec, 'name' | 'params'>>,
  run: () => Promise<BenchResult[]>,
): Promise<BenchResult[]> {
  const device = ctx.device!;
  const skip = (reason: string) => {
    ctx.log(`${describe(spec)}: skipped, ${reason}`);
    return rows.map((row) => skippedResult({ suite: spec.suite, ...row }, reason));
  };
  const unfit = caseUnfitReason(ctx, spec.buffers);
  if (unfit) return skip(unfit);
  device.pushErrorScope('out-of-memory');
  let outcome: { results: BenchResult[] } | { error: unknown };
  try {
    outcome = { results: await run() };
  } catch (error) {
    outcome = { error };
  }
  // A lost device may reject instead of resolving null; its error (E_DEVICE_LOST) is the one to report.
  const oom = await device.popErrorScope().catch(() => null);
  const thrown = 'error' in outcome ? outcome.error : undefined;
  if (oom || isOutOfMemory(thrown)) {
    bufferPool(device).trim();
    return skip(`out of memory: ${(oom?.message ?? (thrown as Error).message).split('\n')[0]}`);
  }
  if ('error' in outcome) throw outcome.error;
  return outcome.results;
}
