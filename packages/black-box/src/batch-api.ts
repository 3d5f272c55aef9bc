/**
 * Submits a Batch API input file and waits for it: `POST /files` (purpose `batch`), `POST /batches`,
 * polls `GET /batches/{id}`, then downloads `GET /files/{output_file_id}/content` and the error file.
 * The batch id is saved next to the input before the first poll (`<input>.batch.json`), so a rerun
 * after a crash or Ctrl-C polls the same batch instead of submitting (and paying for) it again.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { DistilleryError, type BlackBoxTeacher } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { batchTeacherOf } from './batch-files.js';
import { sleep } from './retry.js';

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

export interface BatchJobState {
  inputFile: string;
  inputFileId: string;
  batchId: string;
  endpoint: string;
  submittedAt: string;
}

export interface BatchJobResult {
  batchId: string;
  /** `completed`, `failed`, `expired` or `cancelled`. */
  status: string;
  /** Downloaded output file (absent when the batch produced none). */
  outputPath?: string;
  errorsPath?: string;
  requestCounts?: { total?: number; completed?: number; failed?: number };
  /** The batch was already submitted by an earlier run (its state file was found). */
  resumed: boolean;
}

export interface RunBatchJobOptions {
  /** The `openai` teacher (or pool) whose base URL and key the Batch API is reached with. */
  teacher: BlackBoxTeacher;
  inputFile: string;
  /** Where to download the output and error files (default `<input>.output.jsonl`, `<input>.errors.jsonl`). */
  outputPath?: string;
  errorsPath?: string;
  completionWindow?: string;
  /** Between polls (default 30 s). */
  pollMs?: number;
  signal?: AbortSignal;
  onStatus?: (status: string, counts: BatchJobResult['requestCounts']) => void;
}

async function json<T>(response: Response, what: string): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch {
    throw new DistilleryError('E_TEACHER_REQUEST', `Batch API: ${what} answered with a body that is not JSON`, { field: what });
  }
}

async function readState(path: string): Promise<BatchJobState | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as BatchJobState;
  } catch {
    return undefined;
  }
}

/** Runs one input file through a Batch API endpoint to completion (see the module comment). */
export async function runBatchJob(options: RunBatchJobOptions): Promise<BatchJobResult> {
  const client = batchTeacherOf(options.teacher);
  const statePath = `${options.inputFile}.batch.json`;
  const pollMs = options.pollMs ?? 30_000;
  let state = await readState(statePath);
  const resumed = state !== undefined;
  if (!state) {
    let text: string;
    try {
      text = await readFile(options.inputFile, 'utf8');
    } catch {
      throw new DistilleryError('E_NOT_FOUND', `batch input ${options.inputFile} cannot be read`, {
        field: 'inputFile',
        value: options.inputFile,
      });
    }
    const end = text.indexOf('\n');
    const first = end < 0 ? text : text.slice(0, end);
    let endpoint: string;
    try {
      endpoint = (JSON.parse(first) as { url: string }).url;
    } catch {
      throw new DistilleryError('E_BAD_INPUT', `${options.inputFile}: line 1 is not a batch request`, {
        field: 'inputFile',
        value: options.inputFile,
        line: 1,
      });
    }
    const form = new FormData();
    form.append('purpose', 'batch');
    form.append('file', new Blob([text], { type: 'application/jsonl' }), basename(options.inputFile));
    const file = await json<{ id?: string }>(await client.apiRequest('files', { body: form, signal: options.signal }), 'POST /files');
    if (typeof file.id !== 'string')
      throw new DistilleryError('E_TEACHER_REQUEST', 'Batch API: POST /files returned no file id', { field: 'files' });
    const batch = await json<{ id?: string }>(
      await client.apiRequest('batches', {
        json: { input_file_id: file.id, endpoint, completion_window: options.completionWindow ?? '24h' },
        signal: options.signal,
      }),
      'POST /batches',
    );
    if (typeof batch.id !== 'string')
      throw new DistilleryError('E_TEACHER_REQUEST', 'Batch API: POST /batches returned no batch id', { field: 'batches' });
    state = { inputFile: options.inputFile, inputFileId: file.id, batchId: batch.id, endpoint, submittedAt: new Date().toISOString() };
    await writeFileAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`);
  }
  let batch: {
    status?: string;
    output_file_id?: string | null;
    error_file_id?: string | null;
    request_counts?: BatchJobResult['requestCounts'];
  };
  for (;;) {
    batch = await json(
      await client.apiRequest(`batches/${encodeURIComponent(state.batchId)}`, { signal: options.signal }),
      'GET /batches/{id}',
    );
    const status = String(batch.status);
    options.onStatus?.(status, batch.request_counts);
    if (FINAL.has(status)) break;
    await sleep(pollMs, options.signal);
  }
  const result: BatchJobResult = { batchId: state.batchId, status: String(batch.status), requestCounts: batch.request_counts, resumed };
  const download = async (id: string | null | undefined, path: string) => {
    if (!id) return undefined;
    const response = await client.apiRequest(`files/${encodeURIComponent(id)}/content`, { signal: options.signal });
    await writeFileAtomic(path, Buffer.from(await response.arrayBuffer()));
    return path;
  };
  const outputPath = await download(batch.output_file_id, options.outputPath ?? `${options.inputFile}.output.jsonl`);
  const errorsPath = await download(batch.error_file_id, options.errorsPath ?? `${options.inputFile}.errors.jsonl`);
  if (outputPath) result.outputPath = outputPath;
  if (errorsPath) result.errorsPath = errorsPath;
  return result;
}
