import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { OpenAITeacher, type CollectItem } from '@distillery/black-box';
import { collect, readJsonl } from '@distillery/black-box/node';
import { recordResult, type BenchResult, type BenchSuite } from '../suite.js';
import { summarize } from '../timing.js';

/**
 * The local test server (`serveOpenAI` over a fixed-answer teacher, with an artificial per-request
 * delay) runs in a child process, so neither its event loop nor its CPU time mixes with the client's.
 */
export async function startServer(delayMs: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const blackBox = import.meta.resolve('@distillery/black-box/node');
  const source = `
    import { serveOpenAI } from ${JSON.stringify(blackBox)};
    const text = 'Tom has 3 apples and buys 4 more, so he has 3 + 4 = 7 apples. The answer is (3 + 4).';
    const teacher = { kind: 'black-box', name: 'bench', complete: async () => ({ text, finishReason: 'stop', usage: { promptTokens: 60, completionTokens: 24 } }) };
    const server = await serveOpenAI(teacher, { delayMs: ${Number(delayMs)} });
    process.stdout.write(server.url + '\\n');
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}

interface RunStats {
  wallMs: number;
  latencies: number[];
}

/** Sends `n` requests with `concurrency` in flight through `send`, timing each. */
async function pool(n: number, concurrency: number, send: (i: number) => Promise<unknown>): Promise<RunStats> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await send(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { wallMs: performance.now() - start, latencies };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const prompt = (i: number) => `Q: Tom has ${i} apples and buys 4 more.\nHow many apples does he have?\nA:`;

export const collectSuite: BenchSuite = {
  name: 'collect',
  description:
    'Black-box collection: requests/s and p50/p99 latency through the OpenAI client and collect() vs raw fetch, against a local server with an artificial delay',
  needsGpu: false,
  async run(ctx) {
    const delayMs = Number(ctx.options.delay ?? 20);
    const rounds = Number(ctx.options.rounds ?? (ctx.quick ? 2 : 7));
    const levels = [1, 8, 32];
    const server = await startServer(delayMs);
    const dir = await mkdtemp(join(tmpdir(), 'distillery-bench-collect-'));
    const teacher = new OpenAITeacher({ baseURL: server.url, model: 'bench', env: {} });
    const body = (i: number) => JSON.stringify({ model: 'bench', stream: false, n: 1, temperature: 0, max_tokens: 32, prompt: prompt(i) });
    const modes: Record<string, (n: number, c: number, run: number) => Promise<RunStats>> = {
      // The floor: fetch + JSON.parse of the body, nothing else.
      'raw-fetch': (n, c) =>
        pool(n, c, async (i) => {
          const res = await fetch(`${server.url}/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: body(i),
          });
          return JSON.parse(await res.text());
        }),
      // OpenAITeacher.complete: request building, timeout signal, status/shape checks, logprob parsing.
      client: (n, c) => pool(n, c, (i) => teacher.complete({ prompt: prompt(i), temperature: 0, maxTokens: 32 })),
      // The whole collector: keys, retries, budget/rate bookkeeping, JSONL append per record.
      collect: async (n, c, run) => {
        const items: CollectItem[] = Array.from({ length: n }, (_, i) => ({
          id: `r${i}`,
          request: { prompt: prompt(i), temperature: 0, maxTokens: 32 },
        }));
        const latencies: number[] = [];
        const start = performance.now();
        await collect({
          teacher,
          items,
          output: join(dir, `c${c}-${run}.jsonl`),
          concurrency: c,
          resume: false,
          onProgress: () => undefined,
        });
        const wallMs = performance.now() - start;
        // collect() records each item's wall time in its record; read them back.
        for (const r of (await readJsonl<{ ms: number }>(join(dir, `c${c}-${run}.jsonl`))).records) latencies.push(r.ms);
        return { wallMs, latencies };
      },
    };
    const results: BenchResult[] = [];
    const names = Object.keys(modes);
    try {
      // Warm up JIT and open as many keep-alive connections as the largest level uses.
      for (const mode of names) await modes[mode]!(128, Math.max(...levels), -1);
      for (const c of levels) {
        const n = Math.max(ctx.quick ? 16 : 48, c * (ctx.quick ? 12 : 24));
        const runs: Record<string, (RunStats & { cpuUs: number })[]> = Object.fromEntries(names.map((m) => [m, []]));
        // Interleaved rounds in rotating order: drift and other load hit every mode alike.
        for (let round = 0; round < rounds; round++) {
          for (let k = 0; k < names.length; k++) {
            const mode = names[(round + k) % names.length]!;
            const cpu = process.cpuUsage();
            const stats = await modes[mode]!(n, c, round);
            const used = process.cpuUsage(cpu);
            runs[mode]!.push({ ...stats, cpuUs: used.user + used.system });
          }
        }
        const raw = runs['raw-fetch']!;
        for (const mode of names) {
          const list = runs[mode]!;
          const wall = summarize(list.map((r) => r.wallMs));
          const latencies = list.flatMap((r) => r.latencies).sort((a, b) => a - b);
          const rps = (n * 1000) / wall.median;
          // Paired per round: this mode's wall time over raw fetch's in the same round.
          const overheadPct = (summarize(list.map((r, i) => r.wallMs / raw[i]!.wallMs)).median - 1) * 100;
          const cpuUsPerRequest = summarize(list.map((r) => r.cpuUs / n)).median;
          const metrics: Record<string, number> = {
            requestsPerSecond: rps,
            p50Ms: percentile(latencies, 50),
            p99Ms: percentile(latencies, 99),
            cpuUsPerRequest,
          };
          if (mode !== 'raw-fetch') metrics.overheadPct = overheadPct;
          results.push(
            recordResult(ctx, {
              suite: 'collect',
              name: mode,
              params: { concurrency: c, requests: n, delayMs },
              ms: wall,
              metrics,
              ...(mode === 'raw-fetch' ? {} : { baselines: { 'raw-fetch': { ms: summarize(raw.map((r) => r.wallMs)) } } }),
            }),
          );
          ctx.log(
            `${mode.padEnd(9)} c=${String(c).padStart(2)}: ${rps.toFixed(1)} req/s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ${cpuUsPerRequest.toFixed(0)} µs CPU/request` +
              (mode === 'raw-fetch' ? '' : `, time vs raw fetch ${overheadPct >= 0 ? '+' : ''}${overheadPct.toFixed(1)} %`),
          );
        }
      }
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
    return results;
  },
};
