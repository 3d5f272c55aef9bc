/**
 * The page side of `distillery-bench --browser`: the GPU suites, unchanged, on the page's
 * `navigator.gpu` (bundled by browser-run.ts for headless Chromium).
 */
import { acquireDevice } from '@distillery/webgpu';
import type { AdapterSummary, BenchResult, BenchSuite } from '../suite.js';
import { measureRoofline, type Roofline } from '../roofline/measure.js';
import { bandwidthSuite } from '../suites/bandwidth.js';
import { kdLossSuite } from '../suites/kd-loss.js';
import { softmaxSuite } from '../suites/softmax.js';
import { trainSuite } from '../suites/train.js';

export const BROWSER_SUITES: readonly BenchSuite[] = [bandwidthSuite, softmaxSuite, kdLossSuite, trainSuite];

export interface BrowserBenchRequest {
  names: string[];
  quick: boolean;
  options: Record<string, string>;
}

export interface BrowserBenchReply {
  adapter: AdapterSummary;
  results: BenchResult[];
  logs: string[];
}

declare global {
  interface Window {
    distilleryBench?: (request: BrowserBenchRequest) => Promise<BrowserBenchReply>;
  }
}

window.distilleryBench = async ({ names, quick, options }) => {
  const { device, info } = await acquireDevice({ label: 'distillery-bench-browser' });
  const logs: string[] = [];
  const log = (line: string) => {
    logs.push(line);
    console.log(line);
  };
  // The roofline without host-memcpy (worker threads are Node's); no PyTorch rows in a page.
  let roofline: Promise<Roofline> | undefined;
  const getRoofline = () =>
    (roofline ??= measureRoofline(device, info, { bytes: quick ? 16 << 20 : 64 << 20, runs: quick ? 3 : 7, quick, host: false }));
  const results: BenchResult[] = [];
  for (const suite of BROWSER_SUITES.filter((s) => names.includes(s.name))) {
    log(`# ${suite.name}: ${suite.description}`);
    results.push(
      ...(await suite.run({
        device,
        roofline: getRoofline,
        copyBandwidthGBps: () => getRoofline().then((r) => r.gbps),
        quick,
        options: { ...options, 'no-torch': 'true' },
        log,
      })),
    );
  }
  return {
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      backend: info.backend,
    },
    results,
    logs,
  };
};
