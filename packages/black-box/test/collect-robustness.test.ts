import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpenAITeacher, type CollectedRecord, type CollectItem } from '../src/index.js';
import { collect, FileResponseCache, readJsonl } from '../src/node.js';
import { FakeTeacher, tempDir } from './helpers.js';
import { joinApiPath } from '../src/openai.js';

const items = (n: number, maxTokens = 8): CollectItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, request: { prompt: `p${i}`, maxTokens } }));

/** A loopback OpenAI-ish server: `handle` decides each answer; it records every request's URL. */
async function server(
  handle: (req: IncomingMessage, res: ServerResponse, body: { prompt?: string }) => void,
): Promise<{ url: string; port: number; urls: string[]; close: () => Promise<void> }> {
  const urls: string[] = [];
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      urls.push(req.url ?? '');
      handle(req, res, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { prompt?: string });
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/v1`, port, urls, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

const answer = (text: string) => (_req: IncomingMessage, res: ServerResponse) =>
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ choices: [{ text, finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 3 } }));

describe('collect robustness', () => {
  it('budget.maxTokens reaches at least 95 % of the cap at concurrency 8 without exceeding it', async () => {
    const dir = await tempDir();
    // Each request is estimated at ~257 tokens (maxTokens 256) but really uses 15.
    const teacher = new FakeTeacher('fake', 1);
    const cap = 8000;
    const summary = await collect({
      teacher,
      items: items(1000, 256),
      output: join(dir, 'out.jsonl'),
      concurrency: 8,
      budget: { maxTokens: cap },
    });
    const used = summary.spend.promptTokens + summary.spend.completionTokens;
    expect(summary.stopped).toBe('budget');
    expect(used).toBeLessThanOrEqual(cap);
    expect(used / cap).toBeGreaterThanOrEqual(0.95);
    expect(teacher.maxInFlight).toBe(8);
  });

  it('connection refused is not retried: the run ends at once naming teacher.baseURL', async () => {
    const dead = await server(answer('x'));
    await dead.close();
    const dir = await tempDir();
    const teacher = new OpenAITeacher({ baseURL: dead.url, model: 'm', env: {} });
    let retries = 0;
    const t0 = performance.now();
    const error = await collect({ teacher, items: items(40), output: join(dir, 'out.jsonl'), onRetry: () => retries++ }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'E_BAD_CONFIG', details: { field: 'teacher.baseURL', kind: 'network' } });
    expect(retries).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a port fetch refuses is not retried either', async () => {
    const dir = await tempDir();
    // 6000 (X11) is on the fetch standard's list of bad ports: fetch fails without connecting.
    const teacher = new OpenAITeacher({ baseURL: 'http://127.0.0.1:6000/v1', model: 'm', env: {} });
    let retries = 0;
    const error = await collect({ teacher, items: items(5), output: join(dir, 'out.jsonl'), onRetry: () => retries++ }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'E_BAD_CONFIG', details: { field: 'teacher.baseURL' } });
    expect(retries).toBe(0);
  });

  it('credentials or an impossible port in the base URL are refused up front', () => {
    for (const baseURL of ['http://user:pw@127.0.0.1:8080/v1', 'http://127.0.0.1:99999/v1']) {
      expect(() => new OpenAITeacher({ baseURL, model: 'm', env: {} }), baseURL).toThrowError(
        expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'baseURL' }) }),
      );
    }
  });

  it('HTTP 400/401/403/404 are sent once, never retried', async () => {
    for (const status of [400, 401, 403, 404]) {
      const s = await server((_req, res) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":{"message":"no"}}'),
      );
      try {
        const dir = await tempDir();
        let retries = 0;
        const result = await collect({
          teacher: new OpenAITeacher({ baseURL: s.url, model: 'm', env: {} }),
          items: items(3),
          output: join(dir, 'o.jsonl'),
          concurrency: 1,
          onRetry: () => retries++,
        }).catch((e: unknown) => e);
        expect(retries, String(status)).toBe(0);
        if (status === 400) expect(result).toMatchObject({ failed: 3 });
        else expect(result).toMatchObject({ code: status === 404 ? 'E_NOT_FOUND' : 'E_BAD_CONFIG' });
        expect(s.urls.length, String(status)).toBe(status === 400 ? 3 : 1);
      } finally {
        await s.close();
      }
    }
  });

  it('the response cache is keyed by endpoint: another server is never answered from it', async () => {
    const a = await server(answer('from A'));
    const b = await server(answer('from B'));
    try {
      const dir = await tempDir();
      const cache = new FileResponseCache(join(dir, 'cache'));
      await collect({
        teacher: new OpenAITeacher({ baseURL: a.url, model: 'same', env: {} }),
        items: items(3),
        output: join(dir, 'a.jsonl'),
        cache,
      });
      const summary = await collect({
        teacher: new OpenAITeacher({ baseURL: b.url, model: 'same', env: {} }),
        items: items(3),
        output: join(dir, 'b.jsonl'),
        cache,
      });
      expect(summary.cached).toBe(0);
      const texts = (await readJsonl<CollectedRecord>(join(dir, 'b.jsonl'))).records.map((r) => r.completion.text);
      expect(texts).toEqual(['from B', 'from B', 'from B']);
      // The same endpoint again is a cache hit.
      expect(
        await collect({
          teacher: new OpenAITeacher({ baseURL: a.url, model: 'same', env: {} }),
          items: items(3),
          output: join(dir, 'a2.jsonl'),
          cache,
        }),
      ).toMatchObject({ cached: 3 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a base URL with a query string gets the API path before the query', async () => {
    expect(joinApiPath('https://h.example/openai/v1?api-version=2024-06-01', 'chat/completions')).toBe(
      'https://h.example/openai/v1/chat/completions?api-version=2024-06-01',
    );
    const s = await server(answer('ok'));
    try {
      const teacher = new OpenAITeacher({ baseURL: `${s.url}/?api-version=7`, model: 'm', env: {} });
      expect((await teacher.complete({ prompt: 'x' })).text).toBe('ok');
      expect(s.urls).toEqual(['/v1/completions?api-version=7']);
    } finally {
      await s.close();
    }
  });

  it('a torn tail in the errors log is cut before new failures are appended', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const errorsPath = `${output}.errors.jsonl`;
    await writeFile(errorsPath, '{"id":"old","key":"k","error":{"kind":"http","message":"x"},"attempts":1,"at":"t"}\n');
    await appendFile(errorsPath, '{"id":"torn","key":"k","err');
    const failing = new FakeTeacher('fake', 0, () => new Error('boom'));
    const summary = await collect({ teacher: failing, items: items(2), output, retry: { retries: 0 } });
    expect(summary.repairedErrorBytes).toBe(Buffer.byteLength('{"id":"torn","key":"k","err'));
    const lines = (await readFile(errorsPath, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id).sort()).toEqual(['id-0', 'id-1', 'old']);
  });
});
