import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import {
  MemoryResponseCache,
  requestKey,
  TeacherRequestError,
  withRetry,
  type CollectedRecord,
  type CollectFailure,
  type CollectItem,
} from '../src/index.js';
import { collect, FileResponseCache, readJsonl } from '../src/node.js';
import { FakeTeacher, tempDir } from './helpers.js';
import { RateLimiter } from '../src/rate-limit.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, parseRetryAfter } from '../src/retry.js';

const items = (n: number, prefix = 'p'): CollectItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, request: { prompt: `${prefix}${i}`, maxTokens: 8 } }));
const fast = { baseDelayMs: 1, maxDelayMs: 5 };

async function records(path: string): Promise<CollectedRecord[]> {
  return (await readJsonl<CollectedRecord>(path)).records;
}

describe('collect', () => {
  it('writes one record per item, keeps concurrency bounded and reports progress', async () => {
    const dir = await tempDir();
    const teacher = new FakeTeacher('fake', 5);
    const seen: number[] = [];
    const summary = await collect({
      teacher,
      items: items(40),
      output: join(dir, 'out.jsonl'),
      concurrency: 6,
      onProgress: (p) => seen.push(p.done),
    });
    expect(summary).toMatchObject({ total: 40, done: 40, resumed: 0, failed: 0, complete: true, retries: 0 });
    expect(summary.spend.requests).toBe(40);
    expect(summary.spend.promptTokens).toBe(400);
    expect(teacher.maxInFlight).toBe(6);
    const out = await records(join(dir, 'out.jsonl'));
    expect(out.map((r) => r.id).sort()).toEqual(
      items(40)
        .map((i) => i.id)
        .sort(),
    );
    for (const r of out) {
      expect(r.completion.text).toBe(`answer:p${r.id.slice(3)}`);
      expect(r.key).toBe(requestKey('fake', { prompt: `p${r.id.slice(3)}`, maxTokens: 8 }));
    }
    expect(Math.max(...seen)).toBe(40);
  });

  it('resumes: skips ids already written, repairs a torn last line, and appends only the rest', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const first = new FakeTeacher();
    await collect({ teacher: first, items: items(10), output });
    // Simulate a crash mid-write: a partial line at the end, no newline.
    await appendFile(output, '{"id":"id-10","key":"abc","comp');
    const second = new FakeTeacher();
    const summary = await collect({ teacher: second, items: items(15), output });
    expect(summary).toMatchObject({ resumed: 10, done: 15, complete: true });
    expect(summary.repairedBytes).toBe(Buffer.byteLength('{"id":"id-10","key":"abc","comp'));
    expect(second.calls).toBe(5);
    const ids = (await records(output)).map((r) => r.id);
    expect(ids).toHaveLength(15);
    expect(new Set(ids).size).toBe(15);
    // Nothing left to do: no calls.
    const third = new FakeTeacher();
    expect(await collect({ teacher: third, items: items(15), output })).toMatchObject({ done: 15, resumed: 15 });
    expect(third.calls).toBe(0);
  });

  it('refuses corrupt lines in the middle of the output and duplicate item ids', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    await writeFile(output, '{"id":"a"}\nnot json\n{"id":"b"}\n');
    const error = await collect({ teacher: new FakeTeacher(), items: items(2), output }).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_CORRUPT_FILE')).toBe(true);
    expect((error as Error).message).toContain('line 2');
    const dup = await collect({
      teacher: new FakeTeacher(),
      items: [...items(2), { id: 'id-0', request: { prompt: 'x' } }],
      output: join(dir, 'x.jsonl'),
    }).catch((e: unknown) => e);
    expect(isDistilleryError(dup, 'E_BAD_INPUT')).toBe(true);
  });

  it('answers from the content-addressed cache on a rerun, and sends identical requests once', async () => {
    const dir = await tempDir();
    const cache = new FileResponseCache(join(dir, 'cache'));
    const teacher = new FakeTeacher('fake', 2);
    const list = [...items(6), { id: 'dup', request: { prompt: 'p0', maxTokens: 8 } }];
    await collect({ teacher, items: list, output: join(dir, 'a.jsonl'), cache, concurrency: 7 });
    expect(teacher.calls).toBe(6);
    // New output file, same requests: all from cache.
    const again = new FakeTeacher('fake');
    const summary = await collect({ teacher: again, items: list, output: join(dir, 'b.jsonl'), cache });
    expect(again.calls).toBe(0);
    expect(summary.cached).toBe(7);
    expect((await records(join(dir, 'b.jsonl'))).every((r) => r.cached && r.attempts === 0)).toBe(true);
    // A change of sampling parameters is a different key: a miss.
    const hotter = new FakeTeacher('fake');
    await collect({
      teacher: hotter,
      items: items(2).map((i) => ({ ...i, request: { ...i.request, temperature: 0.7 } })),
      output: join(dir, 'c.jsonl'),
      cache,
    });
    expect(hotter.calls).toBe(2);
    const shards = await readdir(join(dir, 'cache'));
    expect(shards.every((s) => /^[0-9a-f]{2}$/.test(s))).toBe(true);
  });

  it('retries retryable failures with backoff, honouring Retry-After, and counts them', async () => {
    const dir = await tempDir();
    const started = Date.now();
    const teacher = new FakeTeacher('fake', 0, (request, call) => {
      if (request.prompt === 'p1' && call <= 3)
        return new TeacherRequestError({ kind: 'http', status: 429, message: 'slow down', retryable: true, retryAfterMs: 150 });
      if (request.prompt === 'p2' && call <= 4) return new TeacherRequestError({ kind: 'network', message: 'ECONNRESET', retryable: true });
      return undefined;
    });
    const retried: number[] = [];
    const summary = await collect({
      teacher,
      items: items(3),
      output: join(dir, 'o.jsonl'),
      concurrency: 1,
      retry: fast,
      onRetry: (r) => retried.push(r.retryInMs),
    });
    expect(summary).toMatchObject({ done: 3, failed: 0, complete: true });
    expect(summary.retries).toBeGreaterThanOrEqual(2);
    expect(retried.some((ms) => ms >= 150)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('records non-retryable failures with their reason, keeps going, and retries them on the next run', async () => {
    const dir = await tempDir();
    const output = join(dir, 'o.jsonl');
    let broken = true;
    const teacher = new FakeTeacher('fake', 0, (request) =>
      broken && request.prompt === 'p3'
        ? new TeacherRequestError({ kind: 'http', status: 400, message: 'prompt too long', retryable: false })
        : undefined,
    );
    const first = await collect({ teacher, items: items(6), output, retry: fast });
    expect(first).toMatchObject({ done: 5, failed: 1, complete: false });
    const failures = (await readJsonl<CollectFailure>(`${output}.errors.jsonl`)).records;
    expect(failures).toEqual([
      expect.objectContaining({ id: 'id-3', error: { kind: 'http', status: 400, message: 'prompt too long' }, attempts: 1 }),
    ]);
    broken = false;
    const second = await collect({ teacher, items: items(6), output, retry: fast });
    expect(second).toMatchObject({ done: 6, resumed: 5, failed: 0, complete: true });
  });

  it('gives up after the retry limit and reports the item', async () => {
    const dir = await tempDir();
    const teacher = new FakeTeacher(
      'fake',
      0,
      () => new TeacherRequestError({ kind: 'http', status: 503, message: 'down', retryable: true }),
    );
    const summary = await collect({ teacher, items: items(2), output: join(dir, 'o.jsonl'), retry: { ...fast, retries: 3 } });
    expect(summary).toMatchObject({ done: 0, failed: 2, retries: 6 });
    expect(teacher.calls).toBe(8);
  });

  it('times out attempts (even for a teacher that ignores its signal) and retries them', async () => {
    const dir = await tempDir();
    let first = true;
    const teacher = {
      kind: 'black-box' as const,
      name: 'stubborn',
      complete: async () => {
        if (first) {
          first = false;
          await new Promise((resolve) => setTimeout(resolve, 2_000));
        }
        return { text: 'late but fine' };
      },
    };
    const t0 = Date.now();
    const summary = await collect({ teacher, items: items(1), output: join(dir, 'o.jsonl'), timeoutMs: 100, retry: fast });
    expect(summary).toMatchObject({ done: 1, retries: 1 });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('stops cleanly at the budget: requests, tokens, cost', async () => {
    for (const [budget, expected] of [
      [{ maxRequests: 4 }, 4],
      [{ maxTokens: 3 * (3 + 8) }, 3], // prompt "p0" ≈ 1 token estimated; 8 max tokens; usage 15 each
      // estimate 1·1000 + 8·2000 per million = $0.017, usage 10·1000 + 5·2000 = $0.02
      [{ maxCostUsd: 0.05, pricing: { promptPerMillion: 1_000, completionPerMillion: 2_000 } }, 2],
    ] as const) {
      const dir = await tempDir();
      const teacher = new FakeTeacher('fake', 2);
      const summary = await collect({ teacher, items: items(10), output: join(dir, 'o.jsonl'), concurrency: 1, budget });
      expect(summary.stopped, JSON.stringify(budget)).toBe('budget');
      expect(summary.complete).toBe(false);
      expect(summary.done).toBeLessThanOrEqual(expected);
      expect(summary.done).toBeGreaterThanOrEqual(1);
      expect(teacher.calls).toBe(summary.done);
      const written = await readFile(join(dir, 'o.jsonl'), 'utf8');
      expect(written.endsWith('\n')).toBe(true);
      expect(written.trim().split('\n')).toHaveLength(summary.done);
    }
  });

  it('holds the rate limit', async () => {
    const dir = await tempDir();
    const teacher = new FakeTeacher();
    const t0 = performance.now();
    await collect({ teacher, items: items(5), output: join(dir, 'o.jsonl'), concurrency: 5, rateLimit: { requestsPerMinute: 1200 } });
    // 1 burst + 4 more at 50 ms spacing.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('stops when aborted, keeping every finished record', async () => {
    const dir = await tempDir();
    const controller = new AbortController();
    const teacher = new FakeTeacher('fake', 20);
    // Aborts after the third record rather than after a fixed delay, so a loaded machine cannot make the run
    // finish nothing (or everything) before the signal.
    const summary = await collect({
      teacher,
      items: items(50),
      output: join(dir, 'o.jsonl'),
      concurrency: 2,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done >= 3) controller.abort();
      },
    });
    expect(summary.stopped).toBe('aborted');
    expect(summary.done).toBeGreaterThan(0);
    expect(summary.done).toBeLessThan(50);
    expect(await records(join(dir, 'o.jsonl'))).toHaveLength(summary.done);
  });

  it('ends the run on a fatal failure (bad key) with E_BAD_CONFIG', async () => {
    const dir = await tempDir();
    const teacher = new FakeTeacher(
      'fake',
      0,
      () => new TeacherRequestError({ kind: 'http', status: 401, message: 'HTTP 401: bad key', retryable: false, fatal: true }),
    );
    const error = await collect({ teacher, items: items(20), output: join(dir, 'o.jsonl'), concurrency: 4 }).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_CONFIG')).toBe(true);
    expect(teacher.calls).toBeLessThanOrEqual(4);
  });
});

describe('retry policy', () => {
  it('backs off exponentially with full jitter up to the cap', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' as const };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy))).toEqual([100, 200, 400, 800, 1_000]);
    const full = { ...policy, jitter: 'full' as const };
    expect(backoffDelayMs(3, full, () => 0.5)).toBe(200);
    expect(backoffDelayMs(3, full, () => 0)).toBe(0);
    // Retry-After wins (plus up to 10 % jitter), capped at maxRetryAfterMs.
    expect(backoffDelayMs(1, full, () => 0, 5_000)).toBe(5_000);
    expect(backoffDelayMs(1, { ...full, maxRetryAfterMs: 2_000 }, () => 1, 5_000)).toBe(2_200);
  });

  it('parses Retry-After as seconds, HTTP date and retry-after-ms', () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(parseRetryAfter(headers({ 'retry-after': '3' }))).toBe(3_000);
    expect(parseRetryAfter(headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:05 GMT' }), Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(
      5_000,
    );
    expect(parseRetryAfter(headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(parseRetryAfter(headers({}))).toBeUndefined();
  });

  it('withRetry wraps any teacher', async () => {
    const teacher = new FakeTeacher('fake', 0, (_r, call) =>
      call < 3 ? new TeacherRequestError({ kind: 'network', message: 'reset', retryable: true }) : undefined,
    );
    const wrapped = withRetry(teacher, { policy: fast });
    expect((await wrapped.complete({ prompt: 'x' })).text).toBe('answer:x');
    expect(teacher.calls).toBe(3);
  });

  it('paces a token bucket and settles estimates', async () => {
    const limiter = new RateLimiter({ tokensPerMinute: 6_000 }); // 100 tokens/s
    await limiter.acquire(6_000); // a full minute's worth at once
    const t0 = performance.now();
    await limiter.acquire(10);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    limiter.settle(10, 5);
  });
});

describe('MemoryResponseCache', () => {
  it('stores copies', async () => {
    const cache = new MemoryResponseCache();
    const completion = { text: 'a' };
    await cache.set('k', completion);
    completion.text = 'b';
    expect(await cache.get('k')).toEqual({ text: 'a' });
    expect(await cache.get('missing')).toBeUndefined();
  });
});
