import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import { OpenAITeacher, type CollectedRecord, type CollectFailure, type CollectItem } from '../src/index.js';
import { collect, exportBatch, importBatch, readJsonl, serveOpenAI, type BatchInputLine, type OpenAIServer } from '../src/node.js';
import { FakeTeacher, tempDir } from './helpers.js';
import { BATCH_MAX_REQUESTS } from '../src/batch-files.js';

const items = (n: number): CollectItem[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `id-${i}`,
    request: i % 2 ? { prompt: `p${i}`, maxTokens: 8 } : { messages: [{ role: 'user' as const, content: `p${i}` }], maxTokens: 8 },
  }));

type Fault = 'error-line' | 'http-500' | 'drop';

/**
 * A stand-in for the Batch API / vLLM's run_batch: reads an input file, sends each line's body to a
 * real OpenAI-compatible server on 127.0.0.1 and writes output lines in the Batch API's shape;
 * `faults` turn chosen ids into error-file lines, non-2xx responses, or drop them (a partial output).
 */
async function runFakeBatch(
  server: OpenAIServer,
  input: string,
  output: string,
  errors: string,
  faults: Record<string, Fault> = {},
  cutLastLine = false,
): Promise<void> {
  const outLines: string[] = [];
  const errLines: string[] = [];
  let n = 0;
  for (const raw of (await readFile(input, 'utf8')).split('\n')) {
    if (!raw) continue;
    const line = JSON.parse(raw) as BatchInputLine;
    const id = `batch_req_${++n}`;
    const fault = faults[line.custom_id];
    if (fault === 'drop') continue;
    if (fault === 'error-line') {
      errLines.push(
        JSON.stringify({ id, custom_id: line.custom_id, response: null, error: { code: 'server_error', message: 'the model crashed' } }),
      );
      continue;
    }
    if (fault === 'http-500') {
      outLines.push(
        JSON.stringify({
          id,
          custom_id: line.custom_id,
          response: { status_code: 500, request_id: id, body: { error: { message: 'overloaded' } } },
          error: null,
        }),
      );
      continue;
    }
    const res = await fetch(`${server.url}${line.url.replace(/^\/v1/, '')}`, {
      method: line.method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(line.body),
    });
    outLines.push(
      JSON.stringify({
        id,
        custom_id: line.custom_id,
        response: { status_code: res.status, request_id: id, body: await res.json() },
        error: null,
      }),
    );
  }
  let text = outLines.map((l) => `${l}\n`).join('');
  if (cutLastLine) text = text.slice(0, text.length - 30); // a download cut short
  await writeFile(output, text);
  await writeFile(errors, errLines.map((l) => `${l}\n`).join(''));
}

describe('Batch API files: export → batch runner → import', () => {
  let server: OpenAIServer;
  let fake: FakeTeacher;
  const teacher = () => new OpenAITeacher({ baseURL: server.url, model: 'm', temperature: 0 });

  beforeAll(async () => {
    fake = new FakeTeacher('m');
    server = await serveOpenAI(fake, { model: 'm' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('writes {custom_id, method, url, body} lines split at the request and byte limits', async () => {
    const dir = await tempDir();
    const all = items(25);
    const byCount = await exportBatch({ teacher: teacher(), items: all, dir: join(dir, 'a'), maxRequests: 10 });
    expect(byCount.files.map((f) => f.requests)).toEqual([10, 10, 5]);
    expect(byCount.exported).toBe(25);
    const lines = (await readFile(byCount.files[0]!.path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as BatchInputLine);
    expect(lines[0]).toEqual({
      custom_id: 'id-0',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'm', stream: false, n: 1, temperature: 0, max_tokens: 8, messages: [{ role: 'user', content: 'p0' }] },
    });
    expect(lines[1]).toMatchObject({ custom_id: 'id-1', url: '/v1/completions', body: { prompt: 'p1' } });
    // The same body the live client sends.
    expect(lines[1]!.body).toEqual(teacher().describeRequest(all[1]!.request).body);

    const lineBytes = Buffer.byteLength(`${JSON.stringify(lines[0])}\n`);
    const byBytes = await exportBatch({ teacher: teacher(), items: all, dir: join(dir, 'b'), maxBytes: lineBytes * 4 + 10 });
    for (const f of byBytes.files) {
      expect(f.bytes).toBeLessThanOrEqual(lineBytes * 4 + 10);
      expect((await readFile(f.path)).length).toBe(f.bytes);
    }
    expect(byBytes.files.reduce((n, f) => n + f.requests, 0)).toBe(25);
    expect(byBytes.files.length).toBeGreaterThanOrEqual(7);

    // Never over the API's limits, never over a user's files.
    await expect(
      exportBatch({ teacher: teacher(), items: all, dir: join(dir, 'c'), maxRequests: BATCH_MAX_REQUESTS + 1 }),
    ).rejects.toMatchObject({ code: 'E_BAD_VALUE' });
    const again = await exportBatch({ teacher: teacher(), items: all, dir: join(dir, 'a') }).catch((e: unknown) => e);
    expect(isDistilleryError(again, 'E_BAD_CONFIG')).toBe(true);
  });

  it('imports outputs and errors into records.jsonl; failures and partial outputs stay missing and are exported again', async () => {
    const dir = await tempDir();
    const all = items(30);
    const output = join(dir, 'records.jsonl');
    // Reference: the same items collected live.
    await collect({ teacher: teacher(), items: all, output: join(dir, 'live.jsonl'), cache: undefined });
    const live = new Map((await readJsonl<CollectedRecord>(join(dir, 'live.jsonl'))).records.map((r) => [r.id, r]));

    const first = await exportBatch({ teacher: teacher(), items: all, dir: join(dir, 'round1'), maxRequests: 12, output });
    expect(first.files).toHaveLength(3);
    const faults: Record<string, Fault> = { 'id-3': 'error-line', 'id-7': 'http-500', 'id-11': 'drop' };
    const outputs: string[] = [];
    const errorFiles: string[] = [];
    for (const [i, f] of first.files.entries()) {
      outputs.push(join(dir, `out-${i}.jsonl`));
      errorFiles.push(join(dir, `err-${i}.jsonl`));
      // The last file's download is cut short: its last line is torn.
      await runFakeBatch(server, f.path, outputs[i]!, errorFiles[i]!, faults, i === 2);
    }
    const imported = await importBatch({ teacher: teacher(), items: all, inputs: outputs, errorFiles, output });
    expect(imported).toMatchObject({ failed: 2, malformed: 1, duplicates: 0, unknown: 0, complete: false });
    expect(imported.imported).toBe(30 - 4); // 2 failed, 1 dropped, 1 torn
    expect(imported.missing).toBe(4);
    const errors = (await readJsonl<CollectFailure>(imported.errorsPath)).records;
    expect(errors.map((e) => e.id).sort()).toEqual(['id-3', 'id-7']);
    expect(errors.find((e) => e.id === 'id-7')!.error).toMatchObject({ kind: 'http', status: 500, message: 'overloaded' });
    // Records are what the live collector writes (same key, text and usage).
    for (const r of (await readJsonl<CollectedRecord>(output)).records) {
      expect(r.key).toBe(live.get(r.id)!.key);
      expect(r.completion.text).toBe(live.get(r.id)!.completion.text);
      expect(r.completion.usage).toEqual(live.get(r.id)!.completion.usage);
    }

    // Importing the same files again adds nothing.
    const repeat = await importBatch({ teacher: teacher(), items: all, inputs: outputs, output });
    expect(repeat.imported).toBe(0);
    expect(repeat.duplicates).toBe(26);

    // The next export holds only what is missing; its batch completes the collection.
    const second = await exportBatch({ teacher: teacher(), items: all, dir: join(dir, 'round2'), output });
    expect(second).toMatchObject({ exported: 4, skipped: 26 });
    await runFakeBatch(server, second.files[0]!.path, join(dir, 'out-r2.jsonl'), join(dir, 'err-r2.jsonl'));
    const done = await importBatch({ teacher: teacher(), items: all, inputs: [join(dir, 'out-r2.jsonl')], output });
    expect(done).toMatchObject({ imported: 4, missing: 0, complete: true });
    const records = (await readJsonl<CollectedRecord>(output)).records;
    expect(records).toHaveLength(30);
    expect(new Set(records.map((r) => r.id)).size).toBe(30);
    // And a collect run over the same output has nothing left to ask.
    const calls = fake.calls;
    const summary = await collect({ teacher: teacher(), items: all, output, cache: undefined });
    expect(summary).toMatchObject({ resumed: 30, complete: true });
    expect(fake.calls).toBe(calls);
  });

  it('counts lines for unknown ids and refuses a teacher that is not an OpenAI client', async () => {
    const dir = await tempDir();
    const out = join(dir, 'o.jsonl');
    await writeFile(
      out,
      `${JSON.stringify({ custom_id: 'nobody', response: { status_code: 200, body: { choices: [{ text: 'x' }] } } })}\n{"no":"id"}\n`,
    );
    const summary = await importBatch({ teacher: teacher(), items: items(2), inputs: [out], output: join(dir, 'r.jsonl') });
    expect(summary).toMatchObject({ unknown: 1, malformed: 1, imported: 0, missing: 2 });
    // Some runners write the completion itself as "response" (no status_code): read as a 200.
    const bare = join(dir, 'bare.jsonl');
    await writeFile(
      bare,
      `${JSON.stringify({ custom_id: 'id-1', response: { object: 'text_completion', choices: [{ text: 'bare answer', finish_reason: 'stop' }] } })}\n`,
    );
    const read = await importBatch({ teacher: teacher(), items: items(2), inputs: [bare], output: join(dir, 'r.jsonl') });
    expect(read).toMatchObject({ imported: 1, missing: 1 });
    expect((await readJsonl<CollectedRecord>(join(dir, 'r.jsonl'))).records[0]!.completion.text).toBe('bare answer');
    const error = await exportBatch({ teacher: new FakeTeacher(), items: items(2), dir }).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_CONFIG')).toBe(true);
  });
});
