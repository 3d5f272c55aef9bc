import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlamaCppTeacher } from '@distillery/plugin-teacher-llama-cpp';
import { OpenAITeacher, type CollectedRecord, type CollectFailure, type CollectItem } from '../src/index.js';
import { collect, FileResponseCache, readJsonl, serveOpenAI, type OpenAIServer } from '../src/node.js';
import { haveModel, modelPath, startFaultProxy, tempDir, type Fault } from './helpers.js';

const KEY = 'sk-distillery-fault-SECRET-5a5a5a5a5a5a5a5a';
const starts = [
  'Once upon a time',
  'The little dog',
  'One day, Tom',
  'Sue had a red ball',
  'The sun was',
  'A big bird',
  'Lily saw a cat',
  'The boy ran',
];
const items: CollectItem[] = Array.from({ length: 24 }, (_, i) => ({
  id: `story-${i}`,
  request: { prompt: `${starts[i % starts.length]!} (${i})`, maxTokens: 8 },
}));
const indexOf = (body: Record<string, unknown>) => Number(/\((\d+)\)$/.exec(String(body.prompt))?.[1] ?? -1);

/** Every kind of fault, first attempt; every third item gets a second, different fault. */
const FAULTS: Fault[] = [
  { status: 429, retryAfter: '1' },
  { status: 503, retryAfterMs: '200' },
  { status: 500 },
  'hang',
  'reset',
  'malformed',
  'wrong-shape',
  'truncated',
  'echo-auth',
  { status: 502 },
  'ok',
  'ok',
];

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  return out;
}

describe.skipIf(!haveModel)('collection through a fault-injecting proxy in front of a real model', () => {
  let llama: LlamaCppTeacher;
  let server: OpenAIServer;
  const expected = new Map<string, string>();

  beforeAll(async () => {
    llama = await LlamaCppTeacher.load({ modelPath, contextSize: 256, sequences: 2 });
    server = await serveOpenAI(llama, { apiKey: KEY });
    for (const item of items) expected.set(item.id, (await llama.complete(item.request)).text);
  });
  afterAll(async () => {
    await server?.close();
    await llama?.dispose();
  });

  it('retries every fault, loses and duplicates nothing, honours Retry-After, and never writes the key', async () => {
    const proxy = await startFaultProxy(server.url, (body, attempt) => {
      const i = indexOf(body);
      if (attempt === 1) return FAULTS[i % FAULTS.length]!;
      if (attempt === 2 && i % 3 === 0) return FAULTS[(i + 5) % FAULTS.length]!;
      return 'ok';
    });
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const teacher = new OpenAITeacher({
      baseURL: proxy.url,
      model: 'stories260K',
      apiKeyEnv: 'FAULT_KEY',
      env: { FAULT_KEY: KEY },
      timeoutMs: 5_000,
    });
    const messages: string[] = [];
    const progress: string[] = [];
    try {
      const summary = await collect({
        teacher,
        items,
        output,
        concurrency: 6,
        // Long enough that a healthy request never times out on a loaded 2-core machine (each timeout would be a
        // retry the proxy did not inject); the injected hangs cost this much once each.
        timeoutMs: 4_000,
        retry: { baseDelayMs: 20, maxDelayMs: 200, retries: 4 },
        cache: new FileResponseCache(join(dir, 'cache')),
        onRetry: ({ error }) => messages.push(String((error as Error).message)),
        onProgress: (p) => progress.push(JSON.stringify(p)),
      });
      expect(summary).toMatchObject({ total: 24, done: 24, failed: 0, complete: true });
      // Every injected fault kind happened and each cost exactly one retry.
      for (const kind of [
        'http-429',
        'http-503',
        'http-500',
        'http-502',
        'hang',
        'reset',
        'malformed',
        'wrong-shape',
        'truncated',
        'echo-auth',
      ])
        expect(proxy.injected[kind], kind).toBeGreaterThan(0);
      const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
      expect(summary.retries).toBe(injected);
      expect(summary.spend.requests).toBe(24 + injected);
      const records = (await readJsonl<CollectedRecord>(output)).records;
      expect(records.map((r) => r.id).sort()).toEqual(items.map((i) => i.id).sort());
      for (const r of records) expect(r.completion.text).toBe(expected.get(r.id));
      // Retry-After: 1 on the first attempt of item 0 means its record took at least a second.
      expect(records.find((r) => r.id === 'story-0')!.ms).toBeGreaterThanOrEqual(1_000);
      expect(records.find((r) => r.id === 'story-0')!.attempts).toBe(3); // 429, then malformed JSON, then ok
      // The echoed Authorization header was redacted from the error message.
      expect(messages.some((m) => m.includes('authorization: Bearer ***'))).toBe(true);
      const texts = [...messages, ...progress, ...(await Promise.all((await filesUnder(dir)).map((f) => readFile(f, 'utf8'))))];
      for (const text of texts) expect(text).not.toContain(KEY);
    } finally {
      await proxy.close();
    }
  });

  it('reports items whose faults outlast the retries, then completes them on a rerun without duplicates', async () => {
    let down = true;
    const proxy = await startFaultProxy(server.url, (body) =>
      down && indexOf(body) % 8 === 3 ? { status: 503 } : indexOf(body) % 8 === 5 && down ? 'reset' : 'ok',
    );
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const teacher = new OpenAITeacher({ baseURL: proxy.url, model: 'stories260K', apiKey: KEY });
    try {
      const first = await collect({ teacher, items, output, concurrency: 4, retry: { baseDelayMs: 5, maxDelayMs: 20, retries: 2 } });
      expect(first).toMatchObject({ done: 18, failed: 6, complete: false });
      const failures = (await readJsonl<CollectFailure>(`${output}.errors.jsonl`)).records;
      expect(failures.map((f) => f.id).sort()).toEqual(['story-11', 'story-13', 'story-19', 'story-21', 'story-3', 'story-5']);
      expect(failures.find((f) => f.id === 'story-3')).toMatchObject({ error: { kind: 'http', status: 503 }, attempts: 3 });
      expect(failures.find((f) => f.id === 'story-5')).toMatchObject({ error: { kind: 'network' }, attempts: 3 });
      for (const f of failures) expect(JSON.stringify(f)).not.toContain(KEY);
      down = false;
      const second = await collect({ teacher, items, output, concurrency: 4 });
      expect(second).toMatchObject({ resumed: 18, done: 24, failed: 0, complete: true });
      const records = (await readJsonl<CollectedRecord>(output)).records;
      expect(records).toHaveLength(24);
      expect(new Set(records.map((r) => r.id)).size).toBe(24);
      for (const r of records) expect(r.completion.text).toBe(expected.get(r.id));
    } finally {
      await proxy.close();
    }
  });
});
