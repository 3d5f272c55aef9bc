/**
 * OpenAI Batch API files: the collector's requests written as a batch input file, and the batch's
 * output and error files read back into the collection's records.jsonl.
 *
 * Input line:  `{"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": {...}}`
 * Output line: `{"id", "custom_id", "response": {"status_code", "request_id", "body": {...}}, "error": null}`
 * Error line:  the same with `"response": null, "error": {"code", "message"}` or a non-2xx `status_code`.
 *
 * The same files run unchanged through vLLM's offline runner
 * (`python -m vllm.entrypoints.openai.run_batch -i in.jsonl -o out.jsonl --model …`), which writes
 * output lines of the same shape (errors included, in the one output file).
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badValue, DistilleryError, type BlackBoxTeacher } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import type { CollectedRecord, CollectFailure, CollectItem } from './collect.js';
import { requestKey } from './hash.js';
import { JsonlAppender, readJsonl } from './jsonl.js';
import { acquireOutputLock } from './lock.js';
import { OpenAITeacher, parseCompletionResponse } from './openai.js';
import { TeacherPool } from './pool.js';

/** The Batch API's limits per input file. */
export const BATCH_MAX_REQUESTS = 50_000;
export const BATCH_MAX_BYTES = 200 * 1024 * 1024;

export interface BatchInputLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: Record<string, unknown>;
}

export interface ExportBatchOptions {
  /** Builds the bodies (model, sampling defaults, chat vs completions): an `OpenAITeacher` or a pool of them. */
  teacher: BlackBoxTeacher;
  items: readonly CollectItem[];
  /** Folder for `<prefix>-00001.jsonl`, `<prefix>-00002.jsonl`… */
  dir: string;
  prefix?: string;
  /** Records already collected: their ids are not exported (a rerun exports only what is missing). */
  output?: string;
  /** Split limits (default the Batch API's: 50 000 requests, 200 MB). */
  maxRequests?: number;
  maxBytes?: number;
  /** Replace existing batch files of the same names (default false: E_BAD_CONFIG). */
  overwrite?: boolean;
}

export interface ExportBatchSummary {
  files: { path: string; requests: number; bytes: number }[];
  exported: number;
  /** Ids skipped because the output already holds them. */
  skipped: number;
}

/** The OpenAI teacher whose request bodies a batch file should carry. */
export function batchTeacherOf(teacher: BlackBoxTeacher): OpenAITeacher {
  const inner = teacher instanceof TeacherPool ? teacher.endpointTeachers()[0] : teacher;
  if (inner instanceof OpenAITeacher) return inner;
  throw new DistilleryError(
    'E_BAD_CONFIG',
    `batch files need an "openai" teacher (model and API shape); ${JSON.stringify(teacher.name)} is not one`,
    { field: 'teacher.name', value: teacher.name },
  );
}

/** The path part of the batch line's `url`: `/v1/…` as the Batch API and vLLM expect, whatever the base URL. */
function batchUrl(path: string): string {
  return `/v1/${path}`;
}

async function doneIds(output: string | undefined): Promise<Set<string>> {
  const done = new Set<string>();
  if (!output) return done;
  for (const record of (await readJsonl<CollectedRecord>(output)).records) if (record && typeof record.id === 'string') done.add(record.id);
  return done;
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the items not yet in `output` as Batch API input files, split so that no file exceeds
 * `maxRequests` lines or `maxBytes` bytes. `custom_id` is the item id: the import joins on it.
 */
export async function exportBatch(options: ExportBatchOptions): Promise<ExportBatchSummary> {
  const maxRequests = options.maxRequests ?? BATCH_MAX_REQUESTS;
  const maxBytes = options.maxBytes ?? BATCH_MAX_BYTES;
  if (!(Number.isInteger(maxRequests) && maxRequests >= 1 && maxRequests <= BATCH_MAX_REQUESTS))
    throw badValue('maxRequests', maxRequests, `an integer in [1, ${BATCH_MAX_REQUESTS}]`);
  if (!(Number.isInteger(maxBytes) && maxBytes >= 1 && maxBytes <= BATCH_MAX_BYTES))
    throw badValue('maxBytes', maxBytes, `an integer in [1, ${BATCH_MAX_BYTES}]`);
  const teacher = batchTeacherOf(options.teacher);
  const prefix = options.prefix ?? 'batch';
  const done = await doneIds(options.output);
  const files: { lines: Buffer[]; bytes: number }[] = [];
  let current: { lines: Buffer[]; bytes: number } | undefined;
  let exported = 0;
  for (const item of options.items) {
    if (done.has(item.id)) continue;
    const { path, body } = teacher.describeRequest(item.request);
    const line = Buffer.from(
      `${JSON.stringify({ custom_id: item.id, method: 'POST', url: batchUrl(path), body } satisfies BatchInputLine)}\n`,
      'utf8',
    );
    if (line.length > maxBytes)
      throw new DistilleryError(
        'E_BAD_INPUT',
        `item ${JSON.stringify(item.id)} alone is ${line.length} bytes, over the batch file limit of ${maxBytes}`,
        { field: 'items', value: item.id },
      );
    if (!current || current.lines.length >= maxRequests || current.bytes + line.length > maxBytes) {
      current = { lines: [], bytes: 0 };
      files.push(current);
    }
    current.lines.push(line);
    current.bytes += line.length;
    exported++;
  }
  const written: ExportBatchSummary['files'] = [];
  const paths = files.map((_, i) => join(options.dir, `${prefix}-${String(i + 1).padStart(5, '0')}.jsonl`));
  if (!options.overwrite) {
    for (const path of paths)
      if (await exists(path))
        throw new DistilleryError('E_BAD_CONFIG', `batch file ${path} exists; move it away or pass overwrite`, {
          field: 'dir',
          value: path,
        });
  }
  for (const [i, file] of files.entries()) {
    await writeFileAtomic(paths[i]!, Buffer.concat(file.lines));
    written.push({ path: paths[i]!, requests: file.lines.length, bytes: file.bytes });
  }
  return { files: written, exported, skipped: options.items.length - exported };
}

export interface ImportBatchOptions {
  /** The same teacher and items the export was made from (keys and routes are recomputed from them). */
  teacher: BlackBoxTeacher;
  items: readonly CollectItem[];
  /** Batch output files (OpenAI `output_file_id` content, or vLLM run_batch's `-o` file). */
  inputs: readonly string[];
  /** Batch error files (OpenAI `error_file_id` content). */
  errorFiles?: readonly string[];
  /** The collection's records.jsonl (appended; ids already there are skipped). */
  output: string;
  errorsPath?: string;
  /** Hold `<output>.lock` while appending (default true). */
  lock?: boolean;
}

export interface ImportBatchSummary {
  /** Records appended. */
  imported: number;
  /** Lines whose id was already in the output, or seen earlier in these files. */
  duplicates: number;
  /** Failed lines written to the errors log (the ids stay missing; export again to retry them). */
  failed: number;
  /** Lines whose custom_id is not one of the items. */
  unknown: number;
  /** Lines that are not batch output (no custom_id). */
  malformed: number;
  /** Items still without a record after the import. */
  missing: number;
  complete: boolean;
  output: string;
  errorsPath: string;
}

interface BatchOutputLine {
  custom_id?: unknown;
  response?: { status_code?: unknown; body?: unknown } | null;
  error?: { code?: unknown; message?: unknown } | null;
}

/** The completion body of an output line: `response.body`, or (some runners) the response itself. */
function bodyOf(line: BatchOutputLine): unknown {
  const response = line.response as { body?: unknown; choices?: unknown } | null | undefined;
  return response && response.body === undefined && Array.isArray(response.choices) ? response : response?.body;
}

function failureOf(line: BatchOutputLine): { kind: string; status?: number; message: string } | undefined {
  // A runner that writes the completion as the response itself (no status_code) answered 200.
  if (
    line.response &&
    typeof line.response === 'object' &&
    line.response.status_code === undefined &&
    Array.isArray((line.response as { choices?: unknown }).choices) &&
    !line.error
  )
    return undefined;
  const status = typeof line.response?.status_code === 'number' ? line.response.status_code : undefined;
  if (line.error)
    return {
      kind: typeof line.error.code === 'string' ? line.error.code : 'batch-error',
      ...(status === undefined ? {} : { status }),
      message: String(line.error.message ?? 'batch request failed'),
    };
  if (!line.response) return { kind: 'batch-error', message: 'no response and no error' };
  if (status === undefined || status < 200 || status >= 300) {
    const body = line.response.body as { error?: { message?: unknown } | string } | undefined;
    const message =
      typeof body?.error === 'string' ? body.error : typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${status}`;
    return { kind: 'http', ...(status === undefined ? {} : { status }), message };
  }
  return undefined;
}

/**
 * Reads Batch API output (and error) files into the collection's records, with the collector's rules:
 * ids already in the output are skipped, each id is written once, failures go to the errors log
 * (and stay missing, so the next export or collect run asks again). Holds the output's lock.
 */
export async function importBatch(options: ImportBatchOptions): Promise<ImportBatchSummary> {
  const teacher = batchTeacherOf(options.teacher);
  const namespace = options.teacher.name;
  const errorsPath = options.errorsPath ?? `${options.output}.errors.jsonl`;
  const byId = new Map(options.items.map((item) => [item.id, item]));
  const lock = options.lock === false ? undefined : await acquireOutputLock(options.output);
  try {
    const done = new Set<string>();
    for (const record of (await readJsonl<CollectedRecord>(options.output, { repair: true })).records)
      if (record && typeof record.id === 'string') done.add(record.id);
    const summary: ImportBatchSummary = {
      imported: 0,
      duplicates: 0,
      failed: 0,
      unknown: 0,
      malformed: 0,
      missing: 0,
      complete: false,
      output: options.output,
      errorsPath,
    };
    const out = await JsonlAppender.open(options.output);
    let errors: JsonlAppender | undefined;
    const failedIds = new Set<string>();
    try {
      for (const file of [...options.inputs, ...(options.errorFiles ?? [])]) {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch {
          throw new DistilleryError('E_NOT_FOUND', `batch file ${file} cannot be read`, { field: 'inputs', value: file });
        }
        const lines = text.split('\n');
        for (let i = 0; i < lines.length; i++) {
          const raw = lines[i]!.trim();
          if (!raw) continue;
          let line: BatchOutputLine;
          try {
            line = JSON.parse(raw) as BatchOutputLine;
          } catch {
            // A download cut short ends in a partial line: counted, never fatal (export again for the rest).
            summary.malformed++;
            continue;
          }
          if (typeof line?.custom_id !== 'string') {
            summary.malformed++;
            continue;
          }
          const id = line.custom_id;
          const item = byId.get(id);
          if (!item) {
            summary.unknown++;
            continue;
          }
          if (done.has(id)) {
            summary.duplicates++;
            continue;
          }
          const key = requestKey(namespace, item.request);
          const failure = failureOf(line);
          const completion = failure ? undefined : parseCompletionResponse(bodyOf(line), teacher.describeRequest(item.request).route);
          if (failure || !completion) {
            if (failedIds.has(id)) continue;
            failedIds.add(id);
            errors ??= await JsonlAppender.open(errorsPath);
            await errors.append({
              id,
              key,
              error: failure ?? { kind: 'malformed', message: `${file}: line ${i + 1} has no choices[0] completion` },
              attempts: 1,
              at: new Date().toISOString(),
            } satisfies CollectFailure);
            summary.failed++;
            continue;
          }
          done.add(id);
          await out.append({ id, key, teacher: namespace, completion, cached: false, attempts: 1, ms: 0 } satisfies CollectedRecord);
          summary.imported++;
        }
      }
    } finally {
      await out.close();
      await errors?.close();
    }
    // A failure followed by a success for the same id (an error file read before a retried output) is not missing.
    summary.failed = [...failedIds].filter((id) => !done.has(id)).length;
    summary.missing = options.items.filter((item) => !done.has(item.id)).length;
    summary.complete = summary.missing === 0;
    return summary;
  } finally {
    await lock?.release();
  }
}
