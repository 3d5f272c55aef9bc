/**
 * The loop every runner shares (Node's runSuites and the page of `--browser`): suites in turn on
 * one device, so that `distillery-bench all --save` can run unattended. A suite that throws is
 * recorded as a failure and the loop goes on, keeping the results the suite recorded before it
 * threw (`ctx.record`); a lost device is replaced before the next suite.
 * No Node imports: the browser bundle includes it.
 */
import { isDeviceLost, type AcquiredDevice } from '@distillery/webgpu';
import { formatBytes, memoryBudget } from './fit.js';
import { measureRoofline, type Roofline } from './roofline/measure.js';
import { keptNote, type BenchResult, type BenchSuite, type SuiteFailure } from './suite.js';

export interface SuiteLoopOptions {
  quick: boolean;
  options: Record<string, string>;
  log: (line: string) => void;
  /** Gets a device: once for the first GPU suite, again after the device was lost. */
  acquire: () => Promise<AcquiredDevice>;
  /** The memory budget on a CPU adapter when `--max-gpu-bytes` is not given (Node: a third of host memory). */
  cpuAdapterBudget: number;
  /** Whether the roofline may time the host's memcpy (worker threads: Node only). */
  hostRoofline?: boolean;
  /** Called after each suite, finished or failed, with everything so far and the index of that suite. */
  afterSuite?: (soFar: SuiteLoopOutcome, index: number) => Promise<void>;
}

export interface SuiteLoopOutcome {
  results: BenchResult[];
  failures: SuiteFailure[];
  /** The adapter of the first device acquired; undefined when no suite needed one or none could be had. */
  adapter?: AcquiredDevice['info'];
}

/** Whether `device` was lost, giving Dawn a moment to deliver the loss that a failed suite may have caused. */
async function wasLost(device: GPUDevice, waitMs: number): Promise<boolean> {
  if (isDeviceLost(device)) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lost = await Promise.race([
    device.lost.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
  ]);
  clearTimeout(timer);
  return lost;
}

export function failureOf(suite: string, error: unknown): SuiteFailure {
  const code = (error as { code?: unknown } | undefined)?.code;
  const text = error instanceof Error ? error.message : String(error);
  // DistilleryError messages start with their code; the record keeps it in `code` only.
  const message = typeof code === 'string' && text.startsWith(`${code}: `) ? text.slice(code.length + 2) : text;
  return { suite, ...(typeof code === 'string' ? { code } : {}), message };
}

export async function runSuiteLoop(
  suites: readonly BenchSuite[],
  { quick, options, log, acquire, cpuAdapterBudget, hostRoofline = true, afterSuite }: SuiteLoopOptions,
): Promise<SuiteLoopOutcome> {
  let acquired: AcquiredDevice | undefined;
  let adapter: AcquiredDevice['info'] | undefined;
  let budget: ReturnType<typeof memoryBudget> | undefined;
  let roofline: Promise<Roofline> | undefined;
  const results: BenchResult[] = [];
  const failures: SuiteFailure[] = [];

  const ensureDevice = async (): Promise<AcquiredDevice> => {
    if (acquired && !isDeviceLost(acquired.device)) return acquired;
    if (acquired) log(`the GPU device was lost; acquiring a new one`);
    acquired = await acquire();
    adapter ??= acquired.info;
    if (!budget) {
      budget = memoryBudget(options['max-gpu-bytes'], acquired.info, cpuAdapterBudget);
      log(`memory budget per case: ${budget.bytes === undefined ? 'none' : formatBytes(budget.bytes)} (${budget.source})`);
    }
    return acquired;
  };
  // Measured once per run; a measurement that failed (a lost device) is tried again by the next suite.
  const getRoofline = () => {
    if (roofline) return roofline;
    const { device, info } = acquired!;
    const measuring = measureRoofline(device, info, { bytes: quick ? 16 << 20 : 64 << 20, runs: quick ? 3 : 7, quick, host: hostRoofline });
    measuring.catch(() => {
      if (roofline === measuring) roofline = undefined;
    });
    return (roofline = measuring);
  };

  for (const [index, suite] of suites.entries()) {
    log(`# ${suite.name}: ${suite.description}`);
    // Results the suite recorded as it went: in the run's results at once, kept if it throws later.
    const recorded = new Set<BenchResult>();
    const record = (result: BenchResult) => {
      if (recorded.has(result)) return;
      recorded.add(result);
      results.push(result);
    };
    try {
      const gpu = suite.needsGpu ? await ensureDevice() : undefined;
      const returned = await suite.run({
        device: gpu?.device,
        adapter: gpu?.info,
        memoryBudget: gpu ? budget?.bytes : undefined,
        roofline: gpu && getRoofline,
        copyBandwidthGBps: gpu && (() => getRoofline().then((r) => r.gbps)),
        quick,
        options,
        log,
        record,
      });
      for (const result of returned) record(result);
    } catch (error) {
      const failure = { ...failureOf(suite.name, error), ...(recorded.size ? { kept: recorded.size } : {}) };
      failures.push(failure);
      log(`${suite.name} FAILED${failure.code ? ` (${failure.code})` : ''}${keptNote(failure)}: ${failure.message}`);
      if (acquired && (await wasLost(acquired.device, 200))) {
        log('the GPU device was lost; the next GPU suite gets a new one');
        acquired = undefined;
      }
    }
    await afterSuite?.({ results, failures, adapter }, index);
  }
  return { results, failures, adapter };
}
