import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setMaxListeners } from 'node:events';
import { requireNotDirectory } from '@distillery/core/node';
import {
  badValue,
  DistilleryError,
  isDistilleryError,
  type BlackBoxTeacher,
  type Completion,
  type CompletionRequest,
} from '@distillery/core';
import { BudgetTracker, type Budget, type Spend } from './budget.js';
import type { ResponseCache } from './cache.js';
import { isTeacherRequestError, TeacherRequestError } from './errors.js';
import { requestKey } from './hash.js';
import { JsonlAppender, readJsonl, repairTornTail } from './jsonl.js';
import { acquireOutputLock, type LockOwner } from './lock.js';
import { poolCapacity, poolStats, type EndpointStats } from './pool.js';
import { RateLimiter, type RateLimit } from './rate-limit.js';
import { abortedError, completeWithRetry, type RetryPolicy } from './retry.js';
import { safeUrl } from './errors.js';

/** One thing to ask the teacher: a stable id (the join key with the dataset) and the request. */
export interface CollectItem {
  id: string;
  request: CompletionRequest;
}

/** One line of the output JSONL. */
export interface CollectedRecord {
  id: string;
  /** `requestKey(model, request)`: content address of what was asked. */
  key: string;
  /** Teacher name (model). */
  teacher: string;
  completion: Completion;
  /** Answered from the response cache (no request sent). */
  cached: boolean;
  /** Requests sent for this record (0 when cached). */
  attempts: number;
  /** Wall time from first attempt to answer. */
  ms: number;
}

/** One line of the errors JSONL: an item that failed this run (a rerun tries it again). */
export interface CollectFailure {
  id: string;
  key: string;
  error: { kind: string; status?: number; message: string };
  attempts: number;
  at: string;
}

export interface CollectProgress {
  total: number;
  /** Records in the output (resumed + new). */
  done: number;
  /** Records found in the output when the run started. */
  resumed: number;
  /** New records answered from the cache. */
  cached: number;
  failed: number;
  inFlight: number;
  retries: number;
  spend: Spend;
  elapsedMs: number;
  /** New records per second this run. */
  rate: number;
}

export interface CollectOptions {
  teacher: BlackBoxTeacher;
  items: readonly CollectItem[];
  /** Output JSONL path. Appended to; existing records are kept and their ids skipped. */
  output: string;
  /** Failures log (default `<output>.errors.jsonl`). */
  errorsPath?: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  rateLimit?: RateLimit;
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout in ms (default 120 000). */
  timeoutMs?: number;
  budget?: Budget;
  cache?: ResponseCache;
  /** Name mixed into cache keys (default: the teacher's name). */
  cacheNamespace?: string;
  /** Skip ids already in the output (default true). With false the output is truncated first. */
  resume?: boolean;
  /** fsync after every record (power-loss safe, slower). kill -9 safety does not need it. */
  fsync?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: CollectProgress) => void;
  onRetry?: (info: { id: string; attempt: number; error: unknown; retryInMs: number }) => void;
  /** Source of jitter (tests). */
  random?: () => number;
  /**
   * Hold `<output>.lock` for the run (default true): a second collector on the same output gets
   * E_LOCKED naming this process; a lock left by a dead process is taken over.
   */
  lock?: boolean;
}

export interface CollectSummary extends CollectProgress {
  /** Output holds every item. */
  complete: boolean;
  /** Why the run ended early. */
  stopped?: 'budget' | 'aborted';
  /** Bytes of a torn last line removed from the output on resume. */
  repairedBytes: number;
  /** Bytes of a torn last line removed from the errors log. */
  repairedErrorBytes: number;
  /** Existing records whose request key differs from the current request for that id (kept). */
  stale: number;
  /** Records in the output whose id appeared on an earlier line (e.g. written by two concurrent runs before outputs were locked). */
  duplicates: number;
  /** The dead process whose stale lock this run took over, if any. */
  lockTakenOverFrom?: LockOwner;
  /** Per-endpoint requests, latencies, errors and states when the teacher is a `TeacherPool`. */
  endpoints?: EndpointStats[];
  output: string;
  errorsPath: string;
}

/** About 4 characters per token: enough for budgets and rate limits before `usage` is known. */
export function estimatePromptTokens(request: CompletionRequest): number {
  const chars = request.prompt?.length ?? request.messages?.reduce((n, m) => n + m.content.length + 4, 0) ?? 0;
  return Math.ceil(chars / 4);
}

/** Where a teacher's answers come from, when it says (an HTTP teacher's base URL without credentials or query). */
function endpointIdentity(teacher: BlackBoxTeacher): string | undefined {
  const base = (teacher as { baseURL?: unknown }).baseURL;
  return typeof base === 'string' && base !== '' ? safeUrl(base) : undefined;
}

class StopSignal extends Error {
  constructor(readonly reason: 'budget') {
    super(reason);
  }
}

function describeFailure(error: unknown): CollectFailure['error'] {
  if (isTeacherRequestError(error))
    return { kind: error.kind, ...(error.status === undefined ? {} : { status: error.status }), message: error.reason };
  if (isDistilleryError(error)) return { kind: error.code, message: error.message };
  return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Runs a teacher over items and appends one record per item to a JSONL file.
 *
 * - Resumable and crash-safe: records are appended as answers arrive (one write per line), so
 *   kill -9 loses only requests in flight; a rerun repairs a torn last line, skips ids already
 *   present and asks only for the rest — no duplicate, no missing record.
 * - Bounded concurrency, request/token rate limits, retries with exponential backoff + jitter that
 *   honour Retry-After, per-attempt timeouts, and a budget (requests, tokens, cost) that stops cleanly.
 * - A content-addressed response cache (model + prompt + sampling) answers repeats without a call;
 *   identical requests in flight at once are sent once.
 * - Items that still fail are appended to the errors JSONL with their reason and retried next run.
 *   Fatal failures (401/403/404: every request would fail) end the run with E_BAD_CONFIG / E_NOT_FOUND.
 */
export async function collect(options: CollectOptions): Promise<CollectSummary> {
  const { teacher, items, output } = options;
  const errorsPath = options.errorsPath ?? `${output}.errors.jsonl`;
  // A pool of endpoints is kept full by default: the sum of its endpoints' concurrency.
  const concurrency = options.concurrency ?? poolCapacity(options.teacher) ?? 8;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw badValue('concurrency', concurrency, 'an integer >= 1');
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (!(timeoutMs > 0)) throw badValue('timeoutMs', timeoutMs, 'a number > 0');
  const namespace = options.cacheNamespace ?? teacher.name;
  const started = performance.now();

  const seen = new Set<string>();
  for (const [index, item] of items.entries()) {
    if (typeof item?.id !== 'string' || item.id === '')
      throw new DistilleryError('E_BAD_INPUT', `items[${index}].id must be a non-empty string`, {
        field: `items[${index}].id`,
        value: item?.id,
      });
    if (seen.has(item.id))
      throw new DistilleryError('E_BAD_INPUT', `items[${index}].id ${JSON.stringify(item.id)} appears twice; ids must be unique`, {
        field: `items[${index}].id`,
        value: item.id,
      });
    seen.add(item.id);
  }

  if (typeof output !== 'string' || output === '') throw badValue('output', output, 'a file path');
  await requireNotDirectory(output, 'output');
  await requireNotDirectory(errorsPath, 'errorsPath');
  const lock = options.lock === false ? undefined : await acquireOutputLock(output);
  try {
    return await collectLocked(options, errorsPath, concurrency, timeoutMs, namespace, started, lock?.tookOverFrom);
  } finally {
    await lock?.release();
  }
}

async function collectLocked(
  options: CollectOptions,
  errorsPath: string,
  concurrency: number,
  timeoutMs: number,
  namespace: string,
  started: number,
  lockTakenOverFrom: LockOwner | undefined,
): Promise<CollectSummary> {
  const { teacher, items, output } = options;
  const resume = options.resume ?? true;
  let repairedBytes = 0;
  const done = new Set<string>();
  let stale = 0;
  let duplicates = 0;
  if (resume) {
    const existing = await readJsonl<CollectedRecord>(output, { repair: true });
    repairedBytes = existing.tornBytes;
    const keyById = new Map<string, string>();
    for (const record of existing.records) {
      if (record && typeof record.id === 'string') {
        if (done.has(record.id)) duplicates++;
        done.add(record.id);
        keyById.set(record.id, record.key);
      }
    }
    for (const item of items) {
      const key = keyById.get(item.id);
      if (key !== undefined && key !== requestKey(namespace, item.request)) stale++;
    }
  } else {
    await mkdir(dirname(output), { recursive: true });
    await writeFile(output, '');
  }
  const pending = items.filter((item) => !done.has(item.id));
  const resumed = items.length - pending.length;

  // The errors log is appended to the same way: a torn last line from a kill is cut before new lines follow it.
  const repairedErrorBytes = await repairTornTail(errorsPath);
  const out = await JsonlAppender.open(output, { fsync: options.fsync });
  // Opened on the first failure; a promise, so concurrent failures share one appender.
  let errors: Promise<JsonlAppender> | undefined;
  const budget = new BudgetTracker(options.budget);
  const limiter = new RateLimiter(options.rateLimit);
  const progress: CollectProgress = {
    total: items.length,
    done: resumed,
    resumed,
    cached: 0,
    failed: 0,
    inFlight: 0,
    retries: 0,
    spend: budget.spend,
    elapsedMs: 0,
    rate: 0,
  };
  let fresh = 0;
  const report = () => {
    progress.elapsedMs = performance.now() - started;
    progress.rate = progress.elapsedMs > 0 ? (fresh * 1000) / progress.elapsedMs : 0;
    options.onProgress?.({ ...progress, spend: { ...budget.spend } });
  };

  let stopped: CollectSummary['stopped'];
  let fatal: unknown;
  const internal = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
  // One abort listener per request in flight: more than the default 10 is expected.
  setMaxListeners(0, signal);
  const inFlightByKey = new Map<string, Promise<{ completion: Completion; attempts: number } | undefined>>();

  // Two servers behind the same model name give different answers: the cache (and the sharing of
  // identical requests in flight) is keyed by the endpoint too. The record's `key` stays endpoint-free.
  const endpoint = endpointIdentity(teacher);
  const ask = async (
    item: CollectItem,
    recordKey: string,
  ): Promise<{ completion: Completion; attempts: number; cached: boolean } | undefined> => {
    const key = endpoint === undefined ? recordKey : requestKey(`${namespace}@${endpoint}`, item.request);
    const hit = await options.cache?.get(key);
    if (hit) return { completion: hit, attempts: 0, cached: true };
    const shared = inFlightByKey.get(key);
    if (shared) {
      const result = await shared;
      return result && { ...result, attempts: 0, cached: true };
    }
    const promptTokens = estimatePromptTokens(item.request);
    const completionTokens = item.request.maxTokens ?? 256;
    const run = (async () => {
      let reserved = false;
      const result = await completeWithRetry(teacher, item.request, {
        policy: options.retry,
        timeoutMs,
        signal,
        random: options.random,
        beforeAttempt: async () => {
          if (stopped) throw new StopSignal('budget');
          await limiter.acquire(promptTokens + completionTokens, signal);
          for (;;) {
            const verdict = budget.tryReserve(promptTokens, completionTokens);
            if (verdict === 'ok') break;
            if (verdict === 'over' || stopped) throw new StopSignal('budget');
            await new Promise<void>((resolve) => {
              const wake = () => {
                signal.removeEventListener('abort', wake);
                resolve();
              };
              void budget.settled().then(wake);
              signal.addEventListener('abort', wake, { once: true });
            });
            if (signal.aborted) throw abortedError(signal);
          }
          reserved = true;
        },
        onFailure: ({ attempt, error, retryInMs }) => {
          if (reserved) budget.settle({ promptTokens, completionTokens }, { promptTokens: 0, completionTokens: 0 });
          reserved = false;
          if (retryInMs !== undefined) {
            progress.retries++;
            options.onRetry?.({ id: item.id, attempt, error, retryInMs });
            report();
          }
        },
      });
      if (!result.ok) {
        if (isTeacherRequestError(result.error) && result.error.fatal) throw result.error;
        await (
          await (errors ??= JsonlAppender.open(errorsPath))
        ).append({
          id: item.id,
          key: recordKey,
          error: describeFailure(result.error),
          attempts: result.attempts,
          at: new Date().toISOString(),
        } satisfies CollectFailure);
        progress.failed++;
        return undefined;
      }
      const usage = result.completion.usage ?? { promptTokens, completionTokens: Math.ceil(result.completion.text.length / 4) };
      budget.settle({ promptTokens, completionTokens }, usage);
      limiter.settle(promptTokens + completionTokens, usage.promptTokens + usage.completionTokens);
      try {
        await options.cache?.set(key, result.completion);
      } catch {
        // A cache that cannot be written only costs a future call; the record below is what counts.
      }
      return { completion: result.completion, attempts: result.attempts };
    })();
    inFlightByKey.set(key, run);
    try {
      const result = await run;
      return result && { ...result, cached: false };
    } finally {
      inFlightByKey.delete(key);
    }
  };

  let next = 0;
  const worker = async () => {
    while (!stopped && fatal === undefined && next < pending.length) {
      if (signal.aborted) {
        stopped = 'aborted';
        break;
      }
      const item = pending[next++]!;
      const key = requestKey(namespace, item.request);
      const t0 = performance.now();
      progress.inFlight++;
      try {
        const answer = await ask(item, key);
        if (answer) {
          const record: CollectedRecord = {
            id: item.id,
            key,
            teacher: teacher.name,
            completion: answer.completion,
            cached: answer.cached,
            attempts: answer.attempts,
            ms: Math.round(performance.now() - t0),
          };
          await out.append(record);
          progress.done++;
          fresh++;
          if (answer.cached) progress.cached++;
        }
      } catch (error) {
        if (error instanceof StopSignal) stopped ??= error.reason;
        else if (isDistilleryError(error, 'E_ABORTED')) stopped ??= 'aborted';
        else {
          fatal ??= error;
          internal.abort(new Error('a fatal teacher error stopped the run'));
        }
      } finally {
        progress.inFlight--;
        report();
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, pending.length)) }, worker));
  } finally {
    await out.close();
    await (await errors)?.close();
  }
  if (fatal !== undefined) {
    if (fatal instanceof TeacherRequestError && fatal.fatal) {
      const code = fatal.status === 404 ? 'E_NOT_FOUND' : 'E_BAD_CONFIG';
      const field = fatal.status === 404 ? 'teacher.model' : fatal.kind === 'network' ? 'teacher.baseURL' : 'teacher.apiKey';
      const what = fatal.kind === 'network' ? `teacher ${teacher.name} cannot be reached` : `teacher ${teacher.name} refused every request`;
      throw new DistilleryError(code, `${what}: ${fatal.reason}`, { field, status: fatal.status, kind: fatal.kind });
    }
    throw fatal;
  }
  if (!stopped && signal.aborted) stopped = 'aborted';
  report();
  return {
    ...progress,
    spend: { ...budget.spend },
    complete: progress.done === items.length,
    ...(stopped ? { stopped } : {}),
    repairedBytes,
    repairedErrorBytes,
    stale,
    duplicates,
    ...(lockTakenOverFrom ? { lockTakenOverFrom } : {}),
    ...(poolStats(teacher) ? { endpoints: poolStats(teacher) } : {}),
    output,
    errorsPath,
  };
}
