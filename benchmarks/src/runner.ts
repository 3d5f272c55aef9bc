import { cpus, loadavg, platform, release } from 'node:os';
import { acquireDevice, type AcquiredDevice } from '@distillery/webgpu';
import type { AdapterSummary, BenchDocument, BenchResult, BenchSuite } from './suite.js';
import { measureRoofline, type Roofline } from './roofline/measure.js';

export interface RunOptions {
  quick: boolean;
  options: Record<string, string>;
  log: (line: string) => void;
}

/** Runs suites in one process on one adapter and returns the schema-1 document. */
export async function runSuites(suites: readonly BenchSuite[], { quick, options, log }: RunOptions): Promise<BenchDocument> {
  const date = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  let acquired: AcquiredDevice | undefined;
  if (suites.some((s) => s.needsGpu)) acquired = await acquireDevice({ label: 'distillery-bench' });
  let roofline: Promise<Roofline> | undefined;
  const getRoofline = acquired
    ? () =>
        (roofline ??= measureRoofline(acquired.device, acquired.info, { bytes: quick ? 16 << 20 : 64 << 20, runs: quick ? 3 : 7, quick }))
    : undefined;
  const results: BenchResult[] = [];
  for (const suite of suites) {
    log(`# ${suite.name}: ${suite.description}`);
    results.push(
      ...(await suite.run({
        device: acquired?.device,
        roofline: getRoofline,
        copyBandwidthGBps: getRoofline && (() => getRoofline().then((r) => r.gbps)),
        quick,
        options,
        log,
      })),
    );
  }
  const cpu = cpus();
  return {
    schema: 1,
    adapter: acquired ? withoutFallbackFlag(acquired.info) : null,
    host: {
      os: `${platform()} ${release()}`,
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    },
    date,
    results,
  };
}

/** A fixed-width table of a document's results, for people. */
export function formatTable(doc: BenchDocument): string {
  const rows = doc.results.map((r) => {
    const baselines = Object.entries(r.baselines ?? {}).map(
      ([name, b]) => `${name} ${b.ms.median.toFixed(2)} ms (${(b.ms.median / r.ms.median).toFixed(1)}x)`,
    );
    const metrics = Object.entries(r.metrics ?? {}).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(3)}`);
    return [
      r.suite,
      r.name,
      Object.entries(r.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      r.ms.median.toFixed(3),
      r.gbps !== undefined ? r.gbps.toFixed(2) : r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : '',
      [...metrics, ...baselines].join('; '),
    ];
  });
  const header = ['suite', 'name', 'params', 'median ms', 'GB/s', 'notes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const adapter = doc.adapter
    ? `${doc.adapter.vendor} ${doc.adapter.architecture} ${doc.adapter.device} (${doc.adapter.backend})`.replace(/\s+/g, ' ')
    : 'no GPU';
  return [
    `adapter: ${adapter}`,
    `host: ${doc.host.cpu} x${doc.host.cores}, ${doc.host.os}, node ${doc.host.node}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

function withoutFallbackFlag({ isFallback: _isFallback, ...adapter }: AcquiredDevice['info']): AdapterSummary {
  return adapter;
}
