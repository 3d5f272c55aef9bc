/**
 * Failures of a teacher request. Transport problems (HTTP status, network, timeout, malformed or
 * truncated body) are `TeacherRequestError`s that say whether a retry can help; `collect` retries
 * those and records the rest, so one bad item never ends a run and none is dropped silently.
 */
import { DistilleryError, redactSecrets } from '@distillery/core';

export type TeacherFailureKind =
  /** The server answered with an HTTP error status. */
  | 'http'
  /** The connection failed or was reset (or the body was cut short). */
  | 'network'
  /** No complete answer within the per-request timeout. */
  | 'timeout'
  /** The server answered 2xx with a body that is not the JSON the API promises. */
  | 'malformed'
  /** The teacher refused the request itself (bad request, prompt missing from a replay...). */
  | 'rejected';

export interface TeacherRequestErrorInit {
  kind: TeacherFailureKind;
  message: string;
  status?: number;
  /** A retry may succeed (429, 5xx, network, timeout, malformed body). */
  retryable: boolean;
  /** Every further request would fail the same way (bad key, unknown model): stop the run. */
  fatal?: boolean;
  /** The server asked to wait this long (Retry-After / retry-after-ms). */
  retryAfterMs?: number;
  cause?: unknown;
}

/** One failed teacher request. Messages never contain the API key (the client redacts it). */
export class TeacherRequestError extends DistilleryError {
  readonly kind: TeacherFailureKind;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly fatal: boolean;
  readonly retryAfterMs: number | undefined;
  /** The failure in words, without the code prefix `message` carries. */
  readonly reason: string;

  constructor(init: TeacherRequestErrorInit) {
    super(
      'E_TEACHER_REQUEST',
      init.message,
      { kind: init.kind, status: init.status, retryable: init.retryable },
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.reason = init.message;
    this.kind = init.kind;
    this.status = init.status;
    this.retryable = init.retryable;
    this.fatal = init.fatal ?? false;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** The failure without the stack, for JSONL records of failed items. */
  summary(): { kind: TeacherFailureKind; status?: number; message: string; retryable: boolean } {
    return {
      kind: this.kind,
      ...(this.status === undefined ? {} : { status: this.status }),
      message: this.reason,
      retryable: this.retryable,
    };
  }
}

export function isTeacherRequestError(error: unknown): error is TeacherRequestError {
  return error instanceof TeacherRequestError;
}

/**
 * Replaces each secret in `text` with `***`: whole, and any run of 6+ characters of it, its upper-
 * or lower-cased forms, its base64 and URL-encoding (see `redactSecrets` in core). Secrets shorter
 * than 4 characters are ignored.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  return redactSecrets(text, secrets);
}

/** A URL safe to print: no user info, no query string (Azure-style `?api-key=` stays out of logs). */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
