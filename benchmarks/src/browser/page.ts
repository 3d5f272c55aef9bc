/**
 * The page side of `distillery-bench --browser`: the GPU suites, unchanged, on the page's
 * `navigator.gpu` (bundled by browser-run.ts for headless Chromium).
 */
import { acquireDevice } from '@distillery/webgpu';
import type { AdapterSummary, BenchResult, BenchSuite, SuiteFailure } from '../suite.js';
import { runSuiteLoop } from '../suite-loop.js';
import { bandwidthSuite } from '../suites/bandwidth.js';
import { kdLossSuite } from '../suites/kd-loss.js';
import { softmaxSuite } from '../suites/softmax.js';
import { trainSuite } from '../suites/train.js';

export const BROWSER_SUITES: readonly BenchSuite[] = [bandwidthSuite, softmaxSuite, kdLossSuite, trainSuite];

/** A page cannot see the host's memory: on a CPU adapter (SwiftShader) cases are held to this many bytes unless `--max-gpu-bytes` says otherwise. */
const BROWSER_CPU_ADAPTER_BUDGET = 1 << 30;

export interface BrowserBenchRequest {
  names: string[];
  quick: boolean;
  options: Record<string, string>;
}

export interface BrowserBenchReply {
  adapter: AdapterSummary | null;
  results: BenchResult[];
  failures: SuiteFailure[];
  logs: string[];
}

declare global {
  interface Window {
    distilleryBench?: (request: BrowserBenchRequest) => Promise<BrowserBenchReply>;
  }
}

window.distilleryBench = async ({ names, quick, options }) => {
  const logs: string[] = [];
  const log = (line: string) => {
    logs.push(line);
    console.log(line);
  };
  // The roofline without host-memcpy (worker threads are Node's); no PyTorch rows in a page.
  const { results, failures, adapter } = await runSuiteLoop(
    BROWSER_SUITES.filter((s) => names.includes(s.name)),
    {
      quick,
      options: { ...options, 'no-torch': 'true' },
      log,
      acquire: () => acquireDevice({ label: 'distillery-bench-browser' }),
      cpuAdapterBudget: BROWSER_CPU_ADAPTER_BUDGET,
      hostRoofline: false,
    },
  );
  return {
    adapter: adapter
      ? {
          vendor: adapter.vendor,
          architecture: adapter.architecture,
          device: adapter.device,
          description: adapter.description,
          backend: adapter.backend,
        }
      : null,
    results,
    failures,
    logs,
  };
};
