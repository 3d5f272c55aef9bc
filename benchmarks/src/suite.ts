import type { AdapterSummary as WebGpuAdapterSummary } from '@distillery/webgpu';
import type { Roofline } from './roofline/measure.js';

/** The JSON document `distillery-bench <suite> --json` prints (schema 1). */
export interface BenchDocument {
  schema: 1;
  adapter: AdapterSummary | null;
  host: {
    os: string;
    cpu: string;
    cores: number;
    node: string;
    /** 1-minute load average at the start and end of the run (other processes on the machine). */ loadAverage?: {
      start: number;
      end: number;
    };
  };
  /** ISO time the run started. */
  date: string;
  results: BenchResult[];
  /**
   * Suites that threw in the latest run (absent when none did): the run went on with the next suite.
   * The cases such a suite finished before it threw are in `results` (`kept` counts them); the saved
   * file keeps its earlier rows of the cases it did not re-measure (results-io.ts).
   */
  failures?: SuiteFailure[];
}

/** A suite that threw before it finished. */
export interface SuiteFailure {
  suite: string;
  /** The `DistilleryError` code (`E_DEVICE_LOST`, `E_GPU_OOM`...), when the error had one. */
  code?: string;
  message: string;
  /** How many results the suite had recorded (`BenchContext.record`) before it threw; they are in the run's `results`. Absent: none. */
  kept?: number;
}

/** ` (2 finished results kept)` for a failure that kept some, else nothing (logs, tables, the rendered page). */
export function keptNote(failure: Pick<SuiteFailure, 'kept'>): string {
  return failure.kept ? ` (${failure.kept} finished result${failure.kept === 1 ? '' : 's'} kept)` : '';
}

/**
 * The adapter as a result document records it: `@distillery/webgpu`'s summary without
 * `isFallback` (schema 1 documents predate it; the description names a software adapter anyway).
 */
export type AdapterSummary = Omit<WebGpuAdapterSummary, 'isFallback'>;

export interface MsStats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface BenchResult {
  suite: string;
  name: string;
  params: Record<string, string | number | boolean>;
  ms: MsStats;
  bytes?: number;
  flops?: number;
  gbps?: number;
  gflops?: number;
  /** Extra figures a suite reports (ratios, samples/s, peak bytes...). */
  metrics?: Record<string, number>;
  /** The same work done another way, measured in the same run on the same adapter. */
  baselines?: Record<string, { ms: Omit<MsStats, 'runs'> & { runs?: number }; [key: string]: unknown }>;
  /**
   * Why this case was not run (its buffers exceed a device limit or the memory budget, or the device
   * ran out of memory); `ms` is then all zeros with `runs: 0` and nothing else is measured.
   */
  skipped?: string;
}

/** What every suite gets from the runner. */
export interface BenchContext {
  /** A GPU device, when the suite declared `needsGpu` and one was acquired. */
  device?: GPUDevice;
  /**
   * The roofline: the best streaming bandwidth measured on this adapter (and, for CPU adapters, the
   * host), measured once per run when a GPU suite asks for it. Ratios name its `source`.
   */
  roofline?: () => Promise<Roofline>;
  /** `roofline().gbps` (kept for suites written against the older single-copy figure). */
  copyBandwidthGBps?: () => Promise<number>;
  /** Smaller shapes and fewer repetitions (for smoke tests and CI). */
  quick: boolean;
  /** The adapter of `device` (`isFallback`: a CPU/software adapter). */
  adapter?: WebGpuAdapterSummary;
  /**
   * The most bytes of GPU buffers one case may allocate in total (`--max-gpu-bytes`; by default a
   * share of host memory on a CPU adapter, none on a GPU). See fit.ts.
   */
  memoryBudget?: number;
  /** Free-form `--key value` options given on the command line after the suite name. */
  options: Record<string, string>;
  log: (line: string) => void;
  /**
   * Hands one finished result to the runner at once, so that it is kept if the suite throws later
   * (a lost device in its last case). The runner always gives one; a caller running a suite by
   * itself may not. Use `recordResult`, which also returns the result.
   */
  record?: (result: BenchResult) => void;
}

export interface BenchSuite {
  name: string;
  description: string;
  needsGpu: boolean;
  /**
   * Measures and returns the suite's results. A suite with several cases also records each as it
   * finishes (`recordResult(ctx, result)`); the runner keeps recorded results when the suite throws, and
   * counts a returned result it already recorded (the same object) once.
   */
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

/** `ctx.record(result)` when the runner listens, and the result, for the suite's own array. */
export function recordResult<R extends BenchResult>(ctx: Pick<BenchContext, 'record'>, result: R): R {
  ctx.record?.(result);
  return result;
}
