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
   * Suites that threw in the latest run (absent when none did): the run went on with the next suite,
   * and the saved file keeps that suite's rows from an earlier run, if any.
   */
  failures?: SuiteFailure[];
}

/** A suite that threw instead of returning its results. */
export interface SuiteFailure {
  suite: string;
  /** The `DistilleryError` code (`E_DEVICE_LOST`, `E_GPU_OOM`...), when the error had one. */
  code?: string;
  message: string;
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
}

export interface BenchSuite {
  name: string;
  description: string;
  needsGpu: boolean;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}
