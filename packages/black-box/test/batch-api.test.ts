import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAITeacher, type CollectedRecord, type CollectItem } from '../src/index.js';
import {
  exportBatch,
  exportBatchFromConfig,
  importBatch,
  readJsonl,
  runBatchJob,
  submitBatchFromConfig,
  type BatchInputLine,
} from '../src/node.js';
import { FakeTeacher, tempDir } from './helpers.js';

const KEY = 'sk-batch-test-0123456789';
const items = (n: number): CollectItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, request: { prompt: `p${i}`, maxTokens: 8 } }));

interface FakeBatchApi {
  url: string;
  submitted: number;
  polls: number;
  close(): Promise<void>;
}

/**
 * A local stand-in for the OpenAI Batch API: files (multipart upload, content download) and batches
 * (validating → in_progress → completed over successive polls). On completion every line goes to
 * `teacher`; ids in `failIds` land in the error file instead.
 */
async function startFakeBatchApi(teacher: FakeTeacher, failIds: ReadonlySet<string>): Promise<FakeBatchApi> {
  const files = new Map<string, string>();
  const batches = new Map<
    string,
    {
      id: string;
      status: string;
      input_file_id: string;
      endpoint: string;
      output_file_id: string | null;
      error_file_id: string | null;
      request_counts: { total: number; completed: number; failed: number };
      polls: number;
    }
  >();
  const api: FakeBatchApi = { url: '', submitted: 0, polls: 0, close: async () => undefined };
  const send = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== `Bearer ${KEY}`) return send(res, 401, { error: { message: 'bad key' } });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const path = new URL(req.url!, 'http://x').pathname;
    if (req.method === 'POST' && path === '/v1/files') {
      const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type']! } }).formData();
      if (form.get('purpose') !== 'batch') return send(res, 400, { error: { message: 'purpose must be batch' } });
      const id = `file-${files.size + 1}`;
      files.set(id, await (form.get('file') as Blob).text());
      return send(res, 200, { id, object: 'file', purpose: 'batch' });
    }
    if (req.method === 'POST' && path === '/v1/batches') {
      const body = JSON.parse(raw.toString()) as { input_file_id: string; endpoint: string; completion_window: string };
      if (!files.has(body.input_file_id) || body.completion_window !== '24h') return send(res, 400, { error: { message: 'bad batch' } });
      api.submitted++;
      const id = `batch_${batches.size + 1}`;
      batches.set(id, {
        id,
        status: 'validating',
        input_file_id: body.input_file_id,
        endpoint: body.endpoint,
        output_file_id: null,
        error_file_id: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        polls: 0,
      });
      return send(res, 200, batches.get(id));
    }
    const batchMatch = /^\/v1\/batches\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && batchMatch) {
      const batch = batches.get(batchMatch[1]!);
      if (!batch) return send(res, 404, { error: { message: 'no such batch' } });
      api.polls++;
      batch.polls++;
      if (batch.status === 'validating') batch.status = 'in_progress';
      else if (batch.status === 'in_progress') {
        const out: string[] = [];
        const err: string[] = [];
        for (const line of files
          .get(batch.input_file_id)!
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as BatchInputLine)) {
          if (failIds.has(line.custom_id)) {
            err.push(
              JSON.stringify({
                id: `r-${line.custom_id}`,
                custom_id: line.custom_id,
                response: null,
                error: { code: 'server_error', message: 'failed' },
              }),
            );
            continue;
          }
          const completion = await teacher.complete({ prompt: line.body.prompt as string });
          const body = {
            object: 'text_completion',
            model: line.body.model,
            choices: [{ index: 0, text: completion.text, finish_reason: 'stop' }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          };
          out.push(
            JSON.stringify({
              id: `r-${line.custom_id}`,
              custom_id: line.custom_id,
              response: { status_code: 200, request_id: `q-${line.custom_id}`, body },
              error: null,
            }),
          );
        }
        batch.output_file_id = `file-${files.size + 1}`;
        files.set(batch.output_file_id, out.map((l) => `${l}\n`).join(''));
        if (err.length) {
          batch.error_file_id = `file-${files.size + 1}`;
          files.set(batch.error_file_id, err.map((l) => `${l}\n`).join(''));
        }
        batch.request_counts = { total: out.length + err.length, completed: out.length, failed: err.length };
        batch.status = 'completed';
      }
      return send(res, 200, batch);
    }
    const contentMatch = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
    if (req.method === 'GET' && contentMatch && files.has(contentMatch[1]!))
      return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(files.get(contentMatch[1]!));
    return send(res, 404, { error: { message: `no route ${req.method} ${path}` } });
  };
  const server = createServer((req, res) => void handle(req, res).catch((e: unknown) => send(res, 500, { error: { message: String(e) } })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  api.close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return api;
}

let api: FakeBatchApi | undefined;
afterEach(async () => {
  await api?.close();
});

describe('runBatchJob against a local Batch API (files + batches routes)', () => {
  it('uploads, polls to completion, downloads output and errors; importing them fills records.jsonl', async () => {
    const fake = new FakeTeacher('m');
    api = await startFakeBatchApi(fake, new Set(['id-2', 'id-5']));
    const teacher = new OpenAITeacher({ baseURL: api.url, model: 'm', apiKey: KEY });
    const dir = await tempDir();
    const all = items(12);
    const output = join(dir, 'records.jsonl');
    const { files } = await exportBatch({ teacher, items: all, dir, output });
    const statuses: string[] = [];
    const job = await runBatchJob({ teacher, inputFile: files[0]!.path, pollMs: 5, onStatus: (s) => statuses.push(s) });
    expect(job).toMatchObject({ status: 'completed', resumed: false, requestCounts: { total: 12, completed: 10, failed: 2 } });
    expect(statuses).toEqual(['in_progress', 'completed']);
    expect(api.submitted).toBe(1);
    const imported = await importBatch({ teacher, items: all, inputs: [job.outputPath!], errorFiles: [job.errorsPath!], output });
    expect(imported).toMatchObject({ imported: 10, failed: 2, missing: 2 });
    const records = (await readJsonl<CollectedRecord>(output)).records;
    expect(records.map((r) => r.completion.text).sort()).toEqual(
      all
        .filter((i) => !['id-2', 'id-5'].includes(i.id))
        .map((i) => `answer:${i.request.prompt}`)
        .sort(),
    );
    // The key never went into a file.
    for (const f of [files[0]!.path, `${files[0]!.path}.batch.json`, job.outputPath!, job.errorsPath!, output])
      expect(await readFile(f, 'utf8')).not.toContain(KEY);

    // A rerun finds the saved batch id: it polls the same batch, never submits (or pays) twice.
    const again = await runBatchJob({ teacher, inputFile: files[0]!.path, pollMs: 5 });
    expect(again).toMatchObject({ batchId: job.batchId, status: 'completed', resumed: true });
    expect(api.submitted).toBe(1);
  });

  it('a wrong key is a fatal E_TEACHER_REQUEST without the key in it', async () => {
    api = await startFakeBatchApi(new FakeTeacher('m'), new Set());
    const teacher = new OpenAITeacher({ baseURL: api.url, model: 'm', apiKey: 'sk-wrong-key-999999' });
    const dir = await tempDir();
    const { files } = await exportBatch({ teacher, items: items(2), dir });
    const error = (await runBatchJob({ teacher, inputFile: files[0]!.path, pollMs: 5 }).catch((e: unknown) => e)) as {
      code: string;
      fatal: boolean;
      status: number;
      message: string;
    };
    expect(error).toMatchObject({ code: 'E_TEACHER_REQUEST', fatal: true, status: 401 });
    expect(error.message).not.toContain('sk-wrong-key-999999');
  });

  it('from a collect config: --export-batch then --submit-batch runs every file and imports the results', async () => {
    api = await startFakeBatchApi(new FakeTeacher('m'), new Set(['r3']));
    const dir = await tempDir();
    await writeFile(
      join(dir, 'requests.jsonl'),
      Array.from({ length: 9 }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: `q${i}` })).join('\n'),
    );
    const config = {
      teacher: { name: 'openai', baseURL: api.url, model: 'm', apiKeyEnv: 'BATCH_TEST_KEY' },
      input: { requests: 'requests.jsonl' },
      output: 'out/records.jsonl',
      cache: false,
    };
    process.env.BATCH_TEST_KEY = KEY;
    try {
      const exported = await exportBatchFromConfig(config, { dir: join(dir, 'batch'), maxRequests: 4 }, { baseDir: dir });
      expect(exported.files).toHaveLength(3);
      const seen: string[] = [];
      const result = await submitBatchFromConfig(
        config,
        { dir: join(dir, 'batch'), pollMs: 5, onStatus: (file, status) => seen.push(`${file}:${status}`) },
        { baseDir: dir },
      );
      expect(result.jobs.map((j) => j.status)).toEqual(['completed', 'completed', 'completed']);
      expect(api.submitted).toBe(3);
      expect(seen).toContain('batch-00003.jsonl:completed');
      expect(result.import).toMatchObject({ imported: 8, failed: 1, missing: 1, complete: false });
      expect((await readJsonl<CollectedRecord>(join(dir, 'out/records.jsonl'))).records).toHaveLength(8);
    } finally {
      delete process.env.BATCH_TEST_KEY;
    }
  });
});
