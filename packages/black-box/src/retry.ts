import { DistilleryError, isDistilleryError, type BlackBoxTeacher, type Completion, type CompletionRequest } from '@distillery/core';
import { TeacherRequestError, isTeacherRequestError } from './errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt (0: try once). */
  retries: number;
  /** Backoff before retry n is `min(maxDelayMs, baseDelayMs · factor^(n-1))`, then jittered. */
  baseDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** `full`: uniform in [0, d]; `equal`: d/2 + uniform in [0, d/2]; `none`: d. */
  jitter: 'full' | 'equal' | 'none';
  /** A server's Retry-After longer than this is capped to it. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 'full',
  maxRetryAfterMs: 120_000,
};

/**
 * Delay before retry number `retry` (1-based). When the server sent Retry-After, the wait is at least
 * that long (capped at `maxRetryAfterMs`) plus up to 10 % jitter so clients do not return in lockstep.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** Math.max(0, retry - 1));
  const jittered = policy.jitter === 'full' ? random() * exp : policy.jitter === 'equal' ? exp / 2 + (random() * exp) / 2 : exp;
  if (retryAfterMs === undefined) return jittered;
  const asked = Math.min(Math.max(0, retryAfterMs), policy.maxRetryAfterMs);
  return asked + random() * asked * 0.1;
}

/** `Retry-After` (seconds or an HTTP date) or `retry-after-ms`, in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(headers: { get(name: string): string | null }, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.max(0, Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Resolves after `ms`, or rejects with E_ABORTED as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortedError(signal: AbortSignal): DistilleryError {
  const reason = signal.reason instanceof Error ? signal.reason.message : signal.reason === undefined ? 'aborted' : String(signal.reason);
  return new DistilleryError('E_ABORTED', `operation aborted (${reason})`, { field: 'signal' });
}

export interface AttemptOptions {
  policy?: Partial<RetryPolicy>;
  /** Per-attempt limit; the attempt's signal aborts and a `timeout` failure is retried. */
  timeoutMs?: number;
  /** Aborting it stops everything (E_ABORTED, never retried). */
  signal?: AbortSignal;
  random?: () => number;
  /** Awaited before every attempt (rate limiting, budget checks); may throw to stop. */
  beforeAttempt?: (attempt: number) => Promise<void> | void;
  /** Called after every failed attempt, with the delay before the next one (undefined: no retry). */
  onFailure?: (info: { attempt: number; error: unknown; retryInMs: number | undefined }) => void;
}

export type AttemptResult = { ok: true; completion: Completion; attempts: number } | { ok: false; error: unknown; attempts: number };

/** Whether an error from `teacher.complete` is worth retrying. Unknown errors are not. */
export function isRetryable(error: unknown): boolean {
  return isTeacherRequestError(error) && error.retryable;
}

function withTimeout<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number | undefined,
  outer: AbortSignal | undefined,
): Promise<T> {
  if (timeoutMs === undefined && !outer) return run(new AbortController().signal);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onOuterAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = new TeacherRequestError({ kind: 'timeout', message: `no answer within ${timeoutMs} ms`, retryable: true });
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    }
    if (outer) {
      onOuterAbort = () => {
        controller.abort(outer.reason);
        reject(abortedError(outer));
      };
      if (outer.aborted) onOuterAbort();
      else outer.addEventListener('abort', onOuterAbort, { once: true });
    }
  });
  // Race, so a teacher that ignores its signal still cannot hold the attempt past the timeout.
  return Promise.race([run(controller.signal), stop]).finally(() => {
    clearTimeout(timer);
    if (onOuterAbort) outer!.removeEventListener('abort', onOuterAbort);
  });
}

/**
 * Calls `teacher.complete` until it succeeds, fails with a non-retryable error, or runs out of
 * retries; waits with exponential backoff + jitter between attempts, honouring Retry-After.
 * Never throws for a teacher failure (it is returned); throws E_ABORTED when `signal` aborts, and
 * rethrows whatever `beforeAttempt` throws.
 */
export async function completeWithRetry(
  teacher: BlackBoxTeacher,
  request: CompletionRequest,
  options: AttemptOptions = {},
): Promise<AttemptResult> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const random = options.random ?? Math.random;
  let attempt = 0;
  while (true) {
    attempt++;
    if (options.signal?.aborted) throw abortedError(options.signal);
    await options.beforeAttempt?.(attempt);
    try {
      const completion = await withTimeout((signal) => teacher.complete(request, { signal }), options.timeoutMs, options.signal);
      return { ok: true, completion, attempts: attempt };
    } catch (error) {
      if (options.signal?.aborted) throw abortedError(options.signal);
      if (isDistilleryError(error, 'E_ABORTED')) throw error;
      const retry = isRetryable(error) && attempt <= policy.retries;
      const retryInMs = retry ? backoffDelayMs(attempt, policy, random, (error as TeacherRequestError).retryAfterMs) : undefined;
      options.onFailure?.({ attempt, error, retryInMs });
      if (retryInMs === undefined) return { ok: false, error, attempts: attempt };
      await sleep(retryInMs, options.signal);
    }
  }
}

/** A teacher that retries `inner` per `policy` (for use outside `collect`, which retries by itself). */
export function withRetry(inner: BlackBoxTeacher, options: Omit<AttemptOptions, 'signal'> = {}): BlackBoxTeacher {
  return {
    kind: 'black-box',
    name: inner.name,
    async complete(request, callOptions) {
      const result = await completeWithRetry(inner, request, { ...options, signal: callOptions?.signal });
      if (result.ok) return result.completion;
      throw result.error;
    },
  };
}
