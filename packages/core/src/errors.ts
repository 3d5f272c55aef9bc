/**
 * Every error Distillery throws on purpose is a `DistilleryError` with a stable `code`.
 * Codes never change meaning once published; callers switch on them instead of on messages.
 * The table of codes lives in docs/errors.md.
 */
export const ERROR_CODES = {
  /** A config object failed validation; `details.issues` lists field path, expected and got. */
  E_BAD_CONFIG: 'E_BAD_CONFIG',
  /** A value is out of its domain (T <= 0, a negative weight, a label outside the vocabulary...). */
  E_BAD_VALUE: 'E_BAD_VALUE',
  /** Two tensors (or a tensor and a declared size) disagree on shape. */
  E_SHAPE_MISMATCH: 'E_SHAPE_MISMATCH',
  /** NaN or Inf where only finite numbers are allowed. */
  E_NON_FINITE: 'E_NON_FINITE',
  /** A plugin name was not found in the registry; `details.known` lists the registered names. */
  E_UNKNOWN_PLUGIN: 'E_UNKNOWN_PLUGIN',
  /** A plugin with the same kind and name is already registered. */
  E_DUPLICATE_PLUGIN: 'E_DUPLICATE_PLUGIN',
  /** No WebGPU adapter could be acquired. */
  E_NO_ADAPTER: 'E_NO_ADAPTER',
  /** The GPU device was lost (driver reset, out of memory, destroyed). */
  E_DEVICE_LOST: 'E_DEVICE_LOST',
  /** A WGSL shader failed to compile; `details.line` points at the offending line. */
  E_SHADER_COMPILE: 'E_SHADER_COMPILE',
  /** The device raised a WebGPU validation error for a submitted kernel chain; `details.kernel` and `details.label` name the dispatch. */
  E_GPU_VALIDATION: 'E_GPU_VALIDATION',
  /** The device ran out of memory while a kernel chain was submitted; `details.kernel` and `details.label` name the dispatch. */
  E_GPU_OOM: 'E_GPU_OOM',
  /** A request exceeds a device limit (storage binding size, workgroup count...); `details.limit` names it. */
  E_LIMIT_EXCEEDED: 'E_LIMIT_EXCEEDED',
  /** The adapter lacks a feature the request needs (shader-f16, timestamp-query...). */
  E_UNSUPPORTED: 'E_UNSUPPORTED',
  /** A checkpoint or cache file is missing, truncated or corrupt. */
  E_CORRUPT_FILE: 'E_CORRUPT_FILE',
  /** A path, dataset or resource the caller named does not exist. */
  E_NOT_FOUND: 'E_NOT_FOUND',
  /** An operation was cancelled through an AbortSignal or `stop()`. */
  E_ABORTED: 'E_ABORTED',
  /** Input data (CSV, JSON, JSONL) could not be parsed; `details` names row and column. */
  E_BAD_INPUT: 'E_BAD_INPUT',
  /** A black-box teacher request failed (HTTP status, timeout, reset, malformed body); see `kind`, `status`, `retryable`. */
  E_TEACHER_REQUEST: 'E_TEACHER_REQUEST',
  /** Another live process holds the lock on an output (a second `collect` on the same file); `details` name its pid, host and start. */
  E_LOCKED: 'E_LOCKED',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export interface ErrorDetails {
  /** Dotted path of the offending field, e.g. `losses[0].temperature`. */
  field?: string;
  /** The value that was rejected (already made safe to print). */
  value?: unknown;
  /** What was expected instead, in words. */
  expected?: string;
  [key: string]: unknown;
}

/**
 * The brand every `DistilleryError` carries. `Symbol.for` gives the same symbol in every copy of
 * this package (ESM and CJS builds, a plugin's own nested install, a linked checkout), so errors
 * are recognised by brand, not by which copy of the class made them.
 */
export const DISTILLERY_ERROR_BRAND: unique symbol = Symbol.for('distillery.error') as never;

export class DistilleryError extends Error {
  override readonly name = 'DistilleryError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  declare readonly [DISTILLERY_ERROR_BRAND]: true;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.details = details;
    Object.defineProperty(this, DISTILLERY_ERROR_BRAND, { value: true, enumerable: false });
  }

  /**
   * `error instanceof DistilleryError` is true for an error from any copy of core (see the
   * brand). Subclasses keep ordinary prototype-chain `instanceof`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== DistilleryError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value);
  }

  toJSON(): { name: string; code: ErrorCode; message: string; details: ErrorDetails } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

function hasBrand(value: unknown): value is DistilleryError {
  return typeof value === 'object' && value !== null && (value as { [DISTILLERY_ERROR_BRAND]?: unknown })[DISTILLERY_ERROR_BRAND] === true;
}

/**
 * True for a `DistilleryError` (with `code`, of that code) made by any copy of `@distillery/core`
 * — CJS or ESM, a plugin's nested install or a linked package.
 */
export function isDistilleryError(error: unknown, code?: ErrorCode): error is DistilleryError {
  return hasBrand(error) && (code === undefined || error.code === code);
}

/** Renders a value for an error message: short, never throws, never huge. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value))
    return value.length > 8
      ? `[${value.slice(0, 8).map(describeValue).join(', ')}, ...] (length ${value.length})`
      : `[${value.map(describeValue).join(', ')}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as { length: number }).length})`;
  if (typeof value === 'object') {
    try {
      const text = JSON.stringify(value);
      return text.length > 120 ? `${text.slice(0, 117)}...` : text;
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

/** `field` must satisfy `expected`; it was `value`. The message names all three. */
export function badValue(field: string, value: unknown, expected: string): DistilleryError {
  return new DistilleryError('E_BAD_VALUE', `${field} must be ${expected}, got ${describeValue(value)}`, {
    field,
    value,
    expected,
  });
}

export function shapeMismatch(field: string, got: readonly number[], expected: string): DistilleryError {
  return new DistilleryError('E_SHAPE_MISMATCH', `${field} has shape [${got.join(', ')}], expected ${expected}`, {
    field,
    value: [...got],
    expected,
  });
}

/** Throws `badValue` unless `value` is a finite number strictly above zero. */
export function requirePositive(field: string, value: number): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw badValue(field, value, 'a finite number > 0');
  return value;
}

/** Throws `badValue` unless `value` is a finite number at or above zero. */
export function requireNonNegative(field: string, value: number): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw badValue(field, value, 'a finite number >= 0');
  return value;
}

/** Throws `badValue` unless `value` is an integer in [min, max]. */
export function requireInteger(field: string, value: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw badValue(field, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}
