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
