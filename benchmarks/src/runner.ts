import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { acquireDevice, type AcquiredDevice } from '@distillery/webgpu';
import { keptNote, type AdapterSummary, type BenchDocument, type BenchSuite } from './suite.js';
import { runSuiteLoop, type SuiteLoopOutcome } from './suite-loop.js';

export interface RunOptions {
  quick: boolean;
  options: Record<string, string>;
  log: (line: string) => void;
  /** How to get a device (tests: one with default limits); default `acquireDevice`. */
  acquire?: () => Promise<AcquiredDevice>;
  /**
   * Called with the document so far after each suite (`--save` writes it, so a process that dies
   * later keeps the suites before), except while the adapter is still unknown and a GPU suite is to
   * come: that document would be filed under no adapter.
   */
  checkpoint?: (soFar: BenchDocument) => Promise<void>;
}

/**
 * Runs suites in one process on one adapter and returns the schema-1 document. A suite that throws
 * is listed in `failures` and the run goes on (suite-loop.ts).
 */
export async function runSuites(
  suites: readonly BenchSuite[],
  { quick, options, log, acquire, checkpoint }: RunOptions,
): Promise<BenchDocument> {
  const date = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const documentOf = (outcome: SuiteLoopOutcome): BenchDocument => {
    const cpu = cpus();
    return {
      schema: 1,
      adapter: outcome.adapter ? withoutFallbackFlag(outcome.adapter) : null,
      host: {
        os: `${platform()} ${release()}`,
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        node: process.version,
        loadAverage: { start: loadAtStart, end: loadavg()[0]! },
      },
      date,
      results: [...outcome.results],
      ...(outcome.failures.length ? { failures: [...outcome.failures] } : {}),
    };
  };
  const outcome = await runSuiteLoop(suites, {
    quick,
    options,
    log,
    acquire: acquire ?? (() => acquireDevice({ label: 'distillery-bench' })),
    // A CPU adapter's buffers are host memory, shared with the baselines' copies, PyTorch and the OS.
    cpuAdapterBudget: Math.floor(totalmem() / 3),
    afterSuite: async (soFar, index) => {
      const last = index === suites.length - 1;
      if (!checkpoint || last || (!soFar.adapter && suites.slice(index + 1).some((s) => s.needsGpu))) return;
      await checkpoint(documentOf(soFar));
    },
  });
  return documentOf(outcome);
}

/** A fixed-width table of a document's results, for people. */
export function formatTable(doc: BenchDocument): string {
  const rows = doc.results.map((r) => {
    const params = Object.entries(r.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    if (r.skipped) return [r.suite, r.name, params, 'skipped', '', r.skipped];
    const baselines = Object.entries(r.baselines ?? {}).map(
      ([name, b]) => `${name} ${b.ms.median.toFixed(2)} ms (${(b.ms.median / r.ms.median).toFixed(1)}x)`,
    );
    const metrics = Object.entries(r.metrics ?? {}).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(3)}`);
    return [
      r.suite,
      r.name,
      params,
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
    ...(doc.failures ?? []).map((f) => `FAILED ${f.suite}${f.code ? ` (${f.code})` : ''}${keptNote(f)}: ${f.message}`),
  ].join('\n');
}

function withoutFallbackFlag({ isFallback: _isFallback, ...adapter }: AcquiredDevice['info']): AdapterSummary {
  return adapter;
}
