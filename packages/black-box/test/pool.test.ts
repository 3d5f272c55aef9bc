import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isDistilleryError, type Completion, type CompletionRequest } from '@distillery/core';
import { LlamaCppTeacher } from '@distillery/plugin-teacher-llama-cpp';
import { OpenAITeacher, openAIPool, TeacherPool, type CollectedRecord, type CollectItem } from '../src/index.js';
import { collect, readJsonl, runCollectConfig, serveOpenAI, type OpenAIServer } from '../src/node.js';
import { FakeTeacher, haveModel, modelPath, startFaultProxy, tempDir, type FaultProxy } from './helpers.js';

const items = (n: number): CollectItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, request: { prompt: `p${i}`, maxTokens: 8 } }));
const fast = { baseDelayMs: 1, maxDelayMs: 20 };

/** Counts requests in flight across every fake server, to see the pool's capacity add up. */
class Fleet {
  inFlight = 0;
  maxInFlight = 0;
  readonly closers: (() => Promise<void>)[] = [];

  /** A fake OpenAI-compatible server on 127.0.0.1 answering after `delayMs`. */
  async fake(name: string, delayMs: number, hook?: (call: number) => void): Promise<{ server: OpenAIServer; teacher: FakeTeacher }> {
    // The latency is inside the teacher, so "in flight" covers it (the server aborts it when a client disconnects).
    const teacher = new FakeTeacher(name, delayMs);
    const inner = teacher.complete.bind(teacher);
    teacher.complete = async (request: CompletionRequest, options?: { signal?: AbortSignal }): Promise<Completion> => {
      hook?.(teacher.calls + 1);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        return await inner(request, options);
      } finally {
        this.inFlight--;
      }
    };
    const server = await serveOpenAI(teacher, { model: 'm' });
    this.closers.push(() => server.close());
    return { server, teacher };
  }

  track(proxy: FaultProxy): FaultProxy {
    this.closers.push(() => proxy.close());
    return proxy;
  }

  async close(): Promise<void> {
    await Promise.all(this.closers.map((c) => c()));
  }
}

let fleet: Fleet;
afterEach(async () => {
  await fleet?.close();
});

async function expectEachOnce(output: string, n: number): Promise<CollectedRecord[]> {
  const records = (await readJsonl<CollectedRecord>(output)).records;
  expect(records).toHaveLength(n);
  expect(new Set(records.map((r) => r.id)).size).toBe(n);
  for (const r of records) expect(r.completion.text).toBe(`answer:p${r.id.slice(3)}`);
  return records;
}

describe('TeacherPool over local OpenAI-compatible servers', () => {
  it('spreads requests over 1, 2 and 3 endpoints; capacity adds up; every record once', async () => {
    for (const k of [1, 2, 3]) {
      fleet = new Fleet();
      const servers = await Promise.all(Array.from({ length: k }, (_, i) => fleet.fake(`s${i}`, 40)));
      const pool = openAIPool(
        { model: 'm' },
        servers.map((s) => ({ baseURL: s.server.url, concurrency: 2 })),
      );
      expect(pool.capacity).toBe(2 * k);
      const dir = await tempDir();
      const n = 24 * k;
      const summary = await collect({ teacher: pool, items: items(n), output: join(dir, 'out.jsonl'), cache: undefined, retry: fast });
      expect(summary).toMatchObject({ done: n, complete: true, failed: 0, retries: 0 });
      await expectEachOnce(join(dir, 'out.jsonl'), n);
      // The collector keeps every endpoint full: in flight across the fleet reaches the pool's capacity.
      expect(fleet.maxInFlight).toBe(2 * k);
      for (const s of servers) expect(s.teacher.maxInFlight).toBeLessThanOrEqual(2);
      const stats = summary.endpoints!;
      expect(stats).toHaveLength(k);
      expect(stats.reduce((a, e) => a + e.ok, 0)).toBe(n);
      // Equal endpoints, equal weights: each takes a fair share (loosely: at least half of n/k).
      for (const e of stats) {
        expect(e.requests).toBeGreaterThanOrEqual(n / k / 2);
        expect(e.state).toBe('healthy');
        expect(e.latencyMs.p50).toBeGreaterThan(0);
      }
      await fleet.close();
    }
  });

  it('weights shift the share between equally fast endpoints', async () => {
    fleet = new Fleet();
    const a = await fleet.fake('a', 10);
    const b = await fleet.fake('b', 10);
    // Concurrency is what a pool fills; 1 in flight at a time means the weight alone decides.
    const pool = openAIPool({ model: 'm' }, [
      { baseURL: a.server.url, concurrency: 4, weight: 3 },
      { baseURL: b.server.url, concurrency: 4, weight: 1 },
    ]);
    const dir = await tempDir();
    await collect({ teacher: pool, items: items(40), output: join(dir, 'out.jsonl'), concurrency: 1 });
    const [ea, eb] = pool.endpointStats();
    expect(ea!.ok + eb!.ok).toBe(40);
    expect(ea!.ok).toBe(40); // load (in-flight + 1) / weight: 1/3 < 1/1 every time
    expect(eb!.ok).toBe(0);
  });

  it('an endpoint killed mid-run: its in-flight requests go elsewhere, benched, nothing lost or duplicated', async () => {
    fleet = new Fleet();
    const victim: { server?: OpenAIServer } = {};
    let killed = false;
    const s0 = await fleet.fake('s0', 20);
    const s1 = await fleet.fake('s1', 20, (call) => {
      // Killed while 3 of its requests are in flight (the kill drops their connections).
      if (call === 12 && !killed) {
        killed = true;
        setTimeout(() => void victim.server!.close(), 5);
      }
    });
    victim.server = s1.server;
    const s2 = await fleet.fake('s2', 20);
    const pool = new TeacherPool({
      endpoints: [s0, s1, s2].map((s) => ({ teacher: new OpenAITeacher({ baseURL: s.server.url, model: 'm' }), concurrency: 3 })),
      benchMs: 60_000,
    });
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const summary = await collect({ teacher: pool, items: items(90), output, retry: fast });
    expect(killed).toBe(true);
    expect(summary).toMatchObject({ done: 90, complete: true, failed: 0 });
    await expectEachOnce(output, 90);
    const [, dead] = summary.endpoints!;
    expect(dead!.state).toBe('benched');
    expect(dead!.failedOver).toBeGreaterThanOrEqual(1);
    expect(dead!.errors.network).toBeGreaterThanOrEqual(1);
    // Requests it accepted but never answered were answered elsewhere: ok counts add up to the records.
    expect(summary.endpoints!.reduce((n, e) => n + e.ok, 0)).toBe(90);
  });

  it('an endpoint answering 429 is paused for its Retry-After, its requests go to the others', async () => {
    fleet = new Fleet();
    const ok = await fleet.fake('ok', 5);
    const busy = fleet.track(await startFaultProxy(ok.server.url, () => ({ status: 429, retryAfterMs: '200' })));
    const pool = openAIPool({ model: 'm' }, [
      { baseURL: busy.url, concurrency: 4 },
      { baseURL: ok.server.url, concurrency: 2 },
    ]);
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const summary = await collect({ teacher: pool, items: items(30), output, retry: fast });
    expect(summary).toMatchObject({ done: 30, complete: true, failed: 0 });
    await expectEachOnce(output, 30);
    const [b, o] = summary.endpoints!;
    expect(b!.ok).toBe(0);
    expect(b!.errors['http-429']).toBeGreaterThanOrEqual(1);
    // 429 means busy, not broken: never benched.
    expect(b!.benched).toBe(0);
    expect(b!.state).toBe('healthy');
    expect(o!.ok).toBe(30);
    expect(busy.injected['http-429']).toBe(b!.requests);
  });

  it('an endpoint that accepts and never answers: its timeouts move requests elsewhere and bench it', async () => {
    fleet = new Fleet();
    const ok = await fleet.fake('ok', 5);
    const hung = fleet.track(await startFaultProxy(ok.server.url, () => 'hang'));
    const dir = await tempDir();
    // The endpoint's own timeout fails over inside the attempt…
    const pool = openAIPool(
      { model: 'm' },
      [
        { baseURL: hung.url, concurrency: 2, timeoutMs: 100 },
        { baseURL: ok.server.url, concurrency: 2 },
      ],
      { benchAfter: 2 },
    );
    const summary = await collect({ teacher: pool, items: items(12), output: join(dir, 'a.jsonl'), retry: fast });
    expect(summary).toMatchObject({ done: 12, complete: true, failed: 0 });
    await expectEachOnce(join(dir, 'a.jsonl'), 12);
    // Both first requests sent there time out (it is full until then) and are answered elsewhere.
    expect(summary.endpoints![0]!.errors.timeout).toBe(2);
    expect(summary.endpoints![0]!.failedOver).toBe(2);
    expect(summary.endpoints![0]!.state).toBe('benched');
    // …and the collector's per-attempt timeout counts against the endpoint too.
    const bare = openAIPool(
      { model: 'm' },
      [
        { baseURL: hung.url, concurrency: 2 },
        { baseURL: ok.server.url, concurrency: 2 },
      ],
      { benchAfter: 1, benchMs: 60_000 },
    );
    const second = await collect({ teacher: bare, items: items(8), output: join(dir, 'b.jsonl'), timeoutMs: 150, retry: fast });
    expect(second).toMatchObject({ done: 8, complete: true });
    expect(second.endpoints![0]!.state).toBe('benched');
    expect(second.endpoints![0]!.errors.timeout).toBeGreaterThanOrEqual(1);
  });

  it('benches an endpoint after repeated failures and probes it back in', async () => {
    fleet = new Fleet();
    const up = await fleet.fake('up', 2);
    let failing = true;
    const flaky = fleet.track(await startFaultProxy(up.server.url, () => (failing ? { status: 503 } : 'ok')));
    const other = await fleet.fake('other', 2);
    const pool = openAIPool(
      { model: 'm' },
      [
        { baseURL: flaky.url, concurrency: 1 },
        { baseURL: other.server.url, concurrency: 1 },
      ],
      { benchAfter: 2, benchMs: 30 },
    );
    const dir = await tempDir();
    const first = await collect({ teacher: pool, items: items(10), output: join(dir, 'a.jsonl'), retry: fast });
    expect(first.complete).toBe(true);
    expect(first.endpoints![0]!.benched).toBeGreaterThanOrEqual(1);
    expect(first.endpoints![0]!.ok).toBe(0);
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the (doubled) bench
    const second = await collect({ teacher: pool, items: items(20), output: join(dir, 'b.jsonl'), retry: fast });
    expect(second.complete).toBe(true);
    await expectEachOnce(join(dir, 'b.jsonl'), 20);
    expect(second.endpoints![0]!.state).toBe('healthy');
    expect(second.endpoints![0]!.ok).toBeGreaterThanOrEqual(1);
  });

  it('a bad key disables one endpoint; when every endpoint refuses, the run stops with E_BAD_CONFIG', async () => {
    fleet = new Fleet();
    const teacher = new FakeTeacher('k', 0);
    const locked = await serveOpenAI(teacher, { model: 'm', apiKey: 'right-key-123' });
    fleet.closers.push(() => locked.close());
    const open = await fleet.fake('open', 2);
    const env = { GOOD: 'right-key-123', BAD: 'wrong-key-456' };
    const mixed = openAIPool({ model: 'm', env }, [{ baseURL: locked.url, apiKeyEnv: 'BAD' }, { baseURL: open.server.url }]);
    const dir = await tempDir();
    const summary = await collect({ teacher: mixed, items: items(12), output: join(dir, 'a.jsonl'), retry: fast });
    expect(summary.complete).toBe(true);
    expect(summary.endpoints![0]!.state).toBe('disabled');
    // Requests already on their way when the first 401 came back also fail there; none after that.
    expect(summary.endpoints![0]!.errors['http-401']).toBe(summary.endpoints![0]!.requests);
    expect(summary.endpoints![1]!.ok).toBe(12);
    expect(JSON.stringify(summary.endpoints)).not.toContain('wrong-key-456');

    const allBad = openAIPool({ model: 'm', env }, [{ baseURL: locked.url, apiKeyEnv: 'BAD' }]);
    const error = await collect({ teacher: allBad, items: items(3), output: join(dir, 'b.jsonl'), retry: fast }).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_CONFIG')).toBe(true);
  });

  it('every endpoint down: items fail into the errors log after the retries (the run ends; a rerun completes)', async () => {
    fleet = new Fleet();
    const s = await fleet.fake('s', 1);
    const url = s.server.url;
    await s.server.close();
    const pool = openAIPool({ model: 'm' }, [{ baseURL: url }], { benchAfter: 1, benchMs: 5 });
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const summary = await collect({ teacher: pool, items: items(4), output, retry: { ...fast, retries: 2 } });
    expect(summary).toMatchObject({ done: 0, failed: 4, complete: false });
    expect(summary.endpoints![0]!.state).not.toBe('healthy');
  });

  it('a config with endpoints builds a pool (per-endpoint concurrency becomes the default concurrency)', async () => {
    fleet = new Fleet();
    const a = await fleet.fake('a', 5);
    const b = await fleet.fake('b', 5);
    const dir = await tempDir();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      join(dir, 'requests.jsonl'),
      items(16)
        .map((i) => JSON.stringify({ id: i.id, prompt: i.request.prompt }))
        .join('\n'),
    );
    const run = await runCollectConfig(
      {
        teacher: {
          name: 'openai',
          model: 'm',
          endpoints: [
            { baseURL: a.server.url, concurrency: 3 },
            { baseURL: b.server.url, concurrency: 2, weight: 2 },
          ],
        },
        input: { requests: 'requests.jsonl' },
        output: 'out.jsonl',
        cache: false,
        // Prices alone (no cap) put the cost in the summary: 16 × (10 × $1000 + 5 × $2000) / 1e6.
        budget: { pricing: { promptPerMillion: 1000, completionPerMillion: 2000 } },
      },
      { baseDir: dir },
    );
    expect(run.summary.complete).toBe(true);
    expect(run.summary.spend.costUsd).toBeCloseTo(0.32, 10);
    expect(run.summary.endpoints!.map((e) => e.concurrency)).toEqual([3, 2]);
    expect(fleet.maxInFlight).toBe(5);
    const bad = await runCollectConfig(
      {
        teacher: { name: 'openai', model: 'm', baseURL: a.server.url, endpoints: [{ baseURL: b.server.url }] },
        input: { requests: 'requests.jsonl' },
        output: 'x.jsonl',
      },
      { baseDir: dir },
    ).catch((e: unknown) => e);
    expect(isDistilleryError(bad, 'E_BAD_CONFIG')).toBe(true);
    expect((bad as Error).message).toContain('exactly one of baseURL, endpoints');
  });
});

describe.skipIf(!haveModel)('TeacherPool with a real model among fakes', () => {
  it('llama.cpp behind serveOpenAI plus two fakes: every record once, each endpoint used', async () => {
    fleet = new Fleet();
    const llama = await LlamaCppTeacher.load({ modelPath, contextSize: 256, sequences: 1, threads: 1 });
    try {
      const real = await serveOpenAI(llama, { model: 'm' });
      fleet.closers.push(() => real.close());
      const f1 = await fleet.fake('f1', 15);
      const f2 = await fleet.fake('f2', 15);
      const pool = openAIPool({ model: 'm' }, [
        { baseURL: real.url, concurrency: 1 },
        { baseURL: f1.server.url, concurrency: 2 },
        { baseURL: f2.server.url, concurrency: 2 },
      ]);
      const dir = await tempDir();
      const output = join(dir, 'out.jsonl');
      const summary = await collect({
        teacher: pool,
        items: items(30).map((i) => ({ ...i, request: { ...i.request, maxTokens: 4 } })),
        output,
      });
      expect(summary.complete).toBe(true);
      const records = (await readJsonl<CollectedRecord>(output)).records;
      expect(new Set(records.map((r) => r.id)).size).toBe(30);
      expect(records).toHaveLength(30);
      for (const e of summary.endpoints!) expect(e.ok).toBeGreaterThanOrEqual(1);
      expect(summary.endpoints!.reduce((n, e) => n + e.ok, 0)).toBe(30);
    } finally {
      await fleet.close();
      await llama.dispose();
    }
  });
});
