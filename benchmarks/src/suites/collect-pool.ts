import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAIPool, type CollectItem } from '@distillery/black-box';
import { collect } from '@distillery/black-box/node';
import { recordResult, type BenchResult, type BenchSuite } from '../suite.js';
import { summarize } from '../timing.js';
import { startServer } from './collect.js';

const prompt = (i: number) => `Q: Tom has ${i} apples and buys 4 more.\nHow many apples does he have?\nA:`;

/**
 * The `collect` case for endpoint pools: requests/s through `collect()` over a `TeacherPool` of 1, 2
 * and 4 local servers (child processes) with a fixed latency and a fixed concurrency each, against
 * the ideal (endpoints × concurrency / latency), and the client's CPU time per request.
 */
export const collectPoolSuite: BenchSuite = {
  name: 'collect-pool',
  description: 'collect() over an endpoint pool: requests/s with 1, 2, 4 endpoints of fixed latency (vs ideal) and client CPU per request',
  needsGpu: false,
  async run(ctx) {
    // 200 ms, about a short completion on a busy server: long enough that the client's own CPU is not what is measured.
    const delayMs = Number(ctx.options.delay ?? 200);
    const perEndpoint = Number(ctx.options.concurrency ?? 4);
    const rounds = Number(ctx.options.rounds ?? (ctx.quick ? 1 : 3));
    const counts = [1, 2, 4];
    const servers = await Promise.all(Array.from({ length: Math.max(...counts) }, () => startServer(delayMs)));
    const dir = await mkdtemp(join(tmpdir(), 'distillery-bench-pool-'));
    const results: BenchResult[] = [];
    let base: number | undefined;
    try {
      for (const k of counts) {
        const ideal = (k * perEndpoint * 1000) / delayMs;
        // About 1.5 s of ideal work per round, whatever the fleet size.
        const n = Math.round(ideal * (ctx.quick ? 0.5 : 1.5));
        const items: CollectItem[] = Array.from({ length: n }, (_, i) => ({
          id: `r${i}`,
          request: { prompt: prompt(i), temperature: 0, maxTokens: 32 },
        }));
        const walls: number[] = [];
        const cpu: number[] = [];
        let shares: number[] = [];
        for (let round = -1; round < rounds; round++) {
          // A fresh pool per round (fresh stats); round -1 warms up connections and the JIT.
          const pool = openAIPool(
            { model: 'bench', env: {} },
            servers.slice(0, k).map((s) => ({ baseURL: s.url, concurrency: perEndpoint })),
          );
          const before = process.cpuUsage();
          const t0 = performance.now();
          const summary = await collect({ teacher: pool, items, output: join(dir, `k${k}-${round}.jsonl`), resume: false, lock: false });
          const wall = performance.now() - t0;
          const used = process.cpuUsage(before);
          if (!summary.complete) throw new Error(`collect-pool: ${summary.done}/${n} records with ${k} endpoints`);
          if (round < 0) continue;
          walls.push(wall);
          cpu.push((used.user + used.system) / n);
          shares = summary.endpoints!.map((e) => e.ok / n);
        }
        const ms = summarize(walls);
        const rps = (n * 1000) / ms.median;
        base ??= rps;
        const metrics = {
          requestsPerSecond: rps,
          idealRequestsPerSecond: ideal,
          efficiency: rps / ideal,
          speedupVs1: rps / base,
          cpuUsPerRequest: summarize(cpu).median,
          minShare: Math.min(...shares),
          maxShare: Math.max(...shares),
        };
        results.push(
          recordResult(ctx, {
            suite: 'collect-pool',
            name: `endpoints-${k}`,
            params: { endpoints: k, concurrencyPerEndpoint: perEndpoint, delayMs, requests: n },
            ms,
            metrics,
          }),
        );
        ctx.log(
          `${k} endpoint${k > 1 ? 's' : ' '}: ${rps.toFixed(1)} req/s (ideal ${ideal.toFixed(0)}, ${(metrics.efficiency * 100).toFixed(0)} %, ×${metrics.speedupVs1.toFixed(2)} vs 1), ${metrics.cpuUsPerRequest.toFixed(0)} µs CPU/request, shares ${shares.map((s) => (s * 100).toFixed(0)).join('/')} %`,
        );
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await rm(dir, { recursive: true, force: true });
    }
    return results;
  },
};
