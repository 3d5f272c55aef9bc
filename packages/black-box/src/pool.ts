import { badValue, DistilleryError, type BlackBoxTeacher, type Completion, type CompletionRequest } from '@distillery/core';
import { isTeacherRequestError, safeUrl, TeacherRequestError } from './errors.js';
import { OpenAITeacher, type OpenAITeacherOptions } from './openai.js';
import { abortedError } from './retry.js';

/** One server of a pool: its own URL, credentials, capacity, pacing and share of the traffic. */
export interface PoolEndpoint {
  /** Answers the requests sent to this endpoint (an `OpenAITeacher` for HTTP servers). */
  teacher: BlackBoxTeacher;
  /** Shown in reports (default: the teacher's base URL without credentials or query, else its name). */
  label?: string;
  /** Requests in flight at once on this endpoint (default 8). */
  concurrency?: number;
  /** Request starts per minute on this endpoint (default unlimited); bursts up to `concurrency`. */
  requestsPerMinute?: number;
  /** Relative share when endpoints are equally loaded; load is in-flight / weight (default 1). */
  weight?: number;
}

export interface TeacherPoolOptions {
  endpoints: readonly PoolEndpoint[];
  /** Name used in records and cache keys (default: the first endpoint teacher's name). */
  name?: string;
  /** Consecutive failures that bench an endpoint (default 3). */
  benchAfter?: number;
  /** First bench length; doubles each time the probe fails, up to `maxBenchMs` (default 2 000). */
  benchMs?: number;
  maxBenchMs?: number;
  /** Endpoints one request may try before its failure goes back to the caller (default: all). */
  maxFailovers?: number;
  /** Clock (tests). */
  now?: () => number;
}

export type EndpointState = 'healthy' | 'benched' | 'probing' | 'disabled';

/** What one endpoint did: the per-endpoint part of a collect summary. */
export interface EndpointStats {
  label: string;
  state: EndpointState;
  weight: number;
  concurrency: number;
  /** Requests sent to this endpoint (every attempt, failovers included). */
  requests: number;
  ok: number;
  /** Failed requests by kind: `http-429`, `http-503`, `network`, `timeout`, `malformed`… */
  errors: Record<string, number>;
  /** Requests that failed here and went on to another endpoint. */
  failedOver: number;
  /** Times this endpoint was benched. */
  benched: number;
  inFlight: number;
  /** Latency of successful requests, ms. */
  latencyMs: { mean: number; p50: number; p95: number; max: number };
  /** The last failure, without credentials. */
  lastError?: string;
}

const LATENCY_SAMPLES = 2048;

class Endpoint {
  readonly label: string;
  readonly concurrency: number;
  readonly weight: number;
  readonly #perMs: number | undefined;
  #tokens: number;
  #refilledAt: number;
  inFlight = 0;
  state: EndpointState = 'healthy';
  consecutiveFailures = 0;
  benchedUntil = 0;
  benchLength = 0;
  /** Set while a 429's Retry-After is pending: no new request starts before it. */
  coolUntil = 0;
  readonly stats = {
    requests: 0,
    ok: 0,
    errors: {} as Record<string, number>,
    failedOver: 0,
    benched: 0,
    latencySum: 0,
    lastError: undefined as string | undefined,
  };
  readonly latencies: number[] = [];

  constructor(
    readonly spec: PoolEndpoint,
    index: number,
    now: number,
  ) {
    const base = (spec.teacher as { baseURL?: unknown }).baseURL;
    this.label = spec.label ?? (typeof base === 'string' ? safeUrl(base) : `${spec.teacher.name}#${index}`);
    this.concurrency = spec.concurrency ?? 8;
    this.weight = spec.weight ?? 1;
    const where = `endpoints[${index}]`;
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1))
      throw badValue(`${where}.concurrency`, spec.concurrency, 'an integer >= 1');
    if (!(this.weight > 0)) throw badValue(`${where}.weight`, spec.weight, 'a number > 0');
    if (spec.requestsPerMinute !== undefined && !(spec.requestsPerMinute > 0))
      throw badValue(`${where}.requestsPerMinute`, spec.requestsPerMinute, 'a number > 0');
    this.#perMs = spec.requestsPerMinute === undefined ? undefined : spec.requestsPerMinute / 60_000;
    this.#tokens = this.concurrency;
    this.#refilledAt = now;
  }

  /** Milliseconds until the rate limit lets one more request start (0: now). */
  rateWait(now: number): number {
    if (this.#perMs === undefined) return 0;
    this.#tokens = Math.min(this.concurrency, this.#tokens + (now - this.#refilledAt) * this.#perMs);
    this.#refilledAt = now;
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) / this.#perMs;
  }

  takeRate(): void {
    if (this.#perMs !== undefined) this.#tokens -= 1;
  }

  recordLatency(ms: number): void {
    this.stats.latencySum += ms;
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
    else this.latencies[this.stats.ok % LATENCY_SAMPLES] = ms;
  }
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function failureName(error: unknown): string {
  if (isTeacherRequestError(error)) return error.kind === 'http' && error.status !== undefined ? `http-${error.status}` : error.kind;
  return 'error';
}

/** A failure that says nothing about the endpoint: the request itself is wrong (400, 422…), or the caller gave up. */
function isRequestFault(error: unknown): boolean {
  if (!isTeacherRequestError(error)) return true;
  if (error.kind === 'http' && error.status !== undefined) return error.status < 500 && !error.retryable && !error.fatal;
  return error.kind === 'rejected';
}

/** The credentials or model are wrong on this endpoint: no retry there can help. */
function isEndpointMisconfigured(error: unknown): boolean {
  return isTeacherRequestError(error) && error.fatal && error.kind === 'http';
}

interface Waiter {
  wake: () => void;
}

/**
 * A black-box teacher over several OpenAI-compatible endpoints serving the same model (vLLM
 * replicas, llama.cpp servers, hosted deployments), each with its own concurrency, rate limit,
 * weight and credentials.
 *
 * - Each request goes to the least-loaded available endpoint (in-flight / weight, below its
 *   concurrency and rate limit); it waits when every endpoint is full.
 * - A request that fails on an endpoint for a reason of the endpoint (connection refused or reset,
 *   timeout, 5xx, 429, malformed body, bad key there) is sent at once to another endpoint it has not
 *   tried, so a dying server costs its in-flight requests a retry elsewhere. `complete` still
 *   returns one answer per call: the collector writes each record once.
 * - `benchAfter` consecutive failures bench an endpoint for `benchMs` (doubling per failed probe);
 *   after that one request probes it (half-open) and a success brings it back. 401/403/404 disable
 *   the endpoint for the run. A 429 pauses the endpoint for its Retry-After without benching it.
 * - When no endpoint can take a request (all benched), the failure is retryable with Retry-After
 *   until the next probe, so the collector's backoff and retry budget apply; when every endpoint is
 *   disabled the failure is fatal.
 */
export class TeacherPool implements BlackBoxTeacher {
  readonly kind = 'black-box' as const;
  readonly name: string;
  readonly #endpoints: Endpoint[];
  readonly #benchAfter: number;
  readonly #benchMs: number;
  readonly #maxBenchMs: number;
  readonly #maxFailovers: number;
  readonly #now: () => number;
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(options: TeacherPoolOptions) {
    if (!Array.isArray(options.endpoints) || options.endpoints.length === 0)
      throw badValue('endpoints', options.endpoints, 'at least one endpoint');
    this.#now = options.now ?? (() => performance.now());
    this.#endpoints = options.endpoints.map((spec, i) => new Endpoint(spec, i, this.#now()));
    const labels = new Set<string>();
    for (const e of this.#endpoints) {
      if (labels.has(e.label)) throw badValue('endpoints', e.label, 'distinct endpoints (this one is listed twice)');
      labels.add(e.label);
    }
    this.name = options.name ?? options.endpoints[0]!.teacher.name;
    this.#benchAfter = options.benchAfter ?? 3;
    this.#benchMs = options.benchMs ?? 2_000;
    this.#maxBenchMs = options.maxBenchMs ?? 60_000;
    this.#maxFailovers = options.maxFailovers ?? this.#endpoints.length - 1;
    if (!(Number.isInteger(this.#benchAfter) && this.#benchAfter >= 1)) throw badValue('benchAfter', options.benchAfter, 'an integer >= 1');
    if (!(this.#benchMs >= 0)) throw badValue('benchMs', options.benchMs, 'a number >= 0');
    if (!(this.#maxBenchMs >= this.#benchMs)) throw badValue('maxBenchMs', options.maxBenchMs, `a number >= benchMs (${this.#benchMs})`);
    if (!(Number.isInteger(this.#maxFailovers) && this.#maxFailovers >= 0))
      throw badValue('maxFailovers', options.maxFailovers, 'an integer >= 0');
  }

  /** Requests the pool can have in flight at once: the collector's default concurrency. */
  get capacity(): number {
    return this.#endpoints.reduce((n, e) => n + e.concurrency, 0);
  }

  /** The endpoints' teachers, in config order. */
  endpointTeachers(): BlackBoxTeacher[] {
    return this.#endpoints.map((e) => e.spec.teacher);
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, endpoints: this.#endpoints.map((e) => e.label) };
  }

  /** Per-endpoint counts, latencies, errors and states so far. */
  endpointStats(): EndpointStats[] {
    this.#refreshStates();
    return this.#endpoints.map((e) => {
      const sorted = [...e.latencies].sort((a, b) => a - b);
      const round = (x: number) => Math.round(x * 10) / 10;
      return {
        label: e.label,
        state: e.state,
        weight: e.weight,
        concurrency: e.concurrency,
        requests: e.stats.requests,
        ok: e.stats.ok,
        errors: { ...e.stats.errors },
        failedOver: e.stats.failedOver,
        benched: e.stats.benched,
        inFlight: e.inFlight,
        latencyMs: {
          mean: round(e.stats.ok ? e.stats.latencySum / e.stats.ok : 0),
          p50: round(quantile(sorted, 0.5)),
          p95: round(quantile(sorted, 0.95)),
          max: round(sorted.at(-1) ?? 0),
        },
        ...(e.stats.lastError ? { lastError: e.stats.lastError } : {}),
      };
    });
  }

  async complete(request: CompletionRequest, options: { signal?: AbortSignal } = {}): Promise<Completion> {
    const tried = new Set<Endpoint>();
    let lastError: unknown;
    for (;;) {
      const endpoint = await this.#acquire(tried, options.signal, lastError);
      tried.add(endpoint);
      const t0 = this.#now();
      try {
        const completion = await endpoint.spec.teacher.complete(request, options);
        this.#succeeded(endpoint, this.#now() - t0);
        return completion;
      } catch (error) {
        if (options.signal?.aborted) {
          // The caller's per-attempt timeout is this endpoint's failure too (a server that accepts and
          // never answers must get benched); any other abort says nothing about the endpoint.
          const reason: unknown = options.signal.reason;
          if (isTeacherRequestError(reason) && reason.kind === 'timeout') this.#failed(endpoint, reason);
          else this.#release(endpoint);
          throw error;
        }
        if (isRequestFault(error)) {
          // Counted, but the endpoint is fine and another one would refuse the same request.
          this.#release(endpoint);
          endpoint.stats.errors[failureName(error)] = (endpoint.stats.errors[failureName(error)] ?? 0) + 1;
          throw error;
        }
        this.#failed(endpoint, error);
        lastError = error;
        if (tried.size > this.#maxFailovers) throw this.#giveUp(error);
        endpoint.stats.failedOver++;
      }
    }
  }

  /** The error a caller sees when this request has used up its endpoints: retryable unless every endpoint is disabled. */
  #giveUp(error: unknown): unknown {
    if (this.#endpoints.every((e) => e.state === 'disabled')) return error;
    if (isTeacherRequestError(error) && (error.fatal || !error.retryable)) {
      // One endpoint's permanent failure is not the pool's: others may still answer on a retry.
      return new TeacherRequestError({
        kind: error.kind,
        status: error.status,
        message: error.reason,
        retryable: true,
        retryAfterMs: this.#nextProbeIn(),
      });
    }
    return error;
  }

  #nextProbeIn(): number | undefined {
    const now = this.#now();
    const times = this.#endpoints.filter((e) => e.state === 'benched').map((e) => e.benchedUntil - now);
    return times.length ? Math.max(0, Math.min(...times)) : undefined;
  }

  #refreshStates(): void {
    const now = this.#now();
    for (const e of this.#endpoints) if (e.state === 'benched' && now >= e.benchedUntil) e.state = 'probing';
  }

  /** Waits for the least-loaded endpoint that can take a request now and this request has not tried. */
  async #acquire(tried: ReadonlySet<Endpoint>, signal: AbortSignal | undefined, lastError: unknown): Promise<Endpoint> {
    for (;;) {
      if (signal?.aborted) throw abortedError(signal);
      this.#refreshStates();
      const now = this.#now();
      let best: Endpoint | undefined;
      let bestLoad = Infinity;
      let soonest = Infinity;
      let usable = 0;
      for (const e of this.#endpoints) {
        if (tried.has(e) || e.state === 'disabled') continue;
        if (e.state === 'benched') {
          soonest = Math.min(soonest, e.benchedUntil - now);
          continue;
        }
        usable++;
        const full = e.state === 'probing' ? e.inFlight >= 1 : e.inFlight >= e.concurrency;
        if (full) continue;
        const wait = Math.max(e.rateWait(now), e.coolUntil - now);
        if (wait > 0) {
          soonest = Math.min(soonest, wait);
          continue;
        }
        const load = (e.inFlight + 1) / e.weight;
        if (load < bestLoad) {
          best = e;
          bestLoad = load;
        }
      }
      if (best) {
        best.inFlight++;
        best.takeRate();
        best.stats.requests++;
        return best;
      }
      if (usable === 0) throw this.#noEndpoint(tried, lastError);
      await this.#wait(soonest, signal);
    }
  }

  #noEndpoint(tried: ReadonlySet<Endpoint>, lastError: unknown): unknown {
    if (lastError !== undefined) return this.#giveUp(lastError);
    const disabled = this.#endpoints.filter((e) => e.state === 'disabled');
    if (disabled.length === this.#endpoints.length) {
      return new TeacherRequestError({
        kind: 'http',
        status: 401,
        fatal: true,
        retryable: false,
        message: `every endpoint of ${this.name} is disabled (${disabled.map((e) => `${e.label}: ${e.stats.lastError ?? 'refused'}`).join('; ')})`,
      });
    }
    const retryAfterMs = this.#nextProbeIn();
    return new TeacherRequestError({
      kind: 'network',
      retryable: true,
      retryAfterMs,
      message: `no healthy endpoint of ${this.name} (${tried.size} tried; ${this.#endpoints.filter((e) => e.state === 'benched').length} benched, next probe in ${Math.round(retryAfterMs ?? 0)} ms)`,
    });
  }

  #wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        if (this.#waiters.length === 0) this.#clearTimer();
        reject(abortedError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      if (Number.isFinite(ms)) this.#wakeAt(this.#now() + Math.max(1, ms));
    });
  }

  /** One timer for the earliest moment a rate limit, a cool-down or a bench ends. */
  #wakeAt(at: number): void {
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#wakeAll(), Math.max(1, at - this.#now()));
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Every waiter looks again (and re-arms the timer if it still has to wait): no timer outlives its waiters. */
  #wakeAll(): void {
    this.#clearTimer();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.wake();
  }

  #release(endpoint: Endpoint): void {
    endpoint.inFlight--;
    this.#wakeAll();
  }

  #succeeded(endpoint: Endpoint, ms: number): void {
    endpoint.stats.ok++;
    endpoint.recordLatency(ms);
    endpoint.consecutiveFailures = 0;
    if (endpoint.state === 'probing') {
      endpoint.state = 'healthy';
      endpoint.benchLength = 0;
    }
    this.#release(endpoint);
  }

  #failed(endpoint: Endpoint, error: unknown): void {
    const name = failureName(error);
    endpoint.stats.errors[name] = (endpoint.stats.errors[name] ?? 0) + 1;
    endpoint.stats.lastError = error instanceof Error ? ((error as { reason?: string }).reason ?? error.message) : String(error);
    const now = this.#now();
    if (isEndpointMisconfigured(error)) endpoint.state = 'disabled';
    else if (isTeacherRequestError(error) && error.status === 429) {
      // Busy, not broken: pause this endpoint for as long as it asked and send the request elsewhere.
      endpoint.coolUntil = Math.max(endpoint.coolUntil, now + (error.retryAfterMs ?? 1_000));
    } else {
      endpoint.consecutiveFailures++;
      if (endpoint.state === 'probing' || endpoint.consecutiveFailures >= this.#benchAfter) {
        if (endpoint.state !== 'benched') endpoint.stats.benched++;
        endpoint.benchLength = Math.min(this.#maxBenchMs, endpoint.benchLength ? endpoint.benchLength * 2 : this.#benchMs);
        endpoint.state = 'benched';
        endpoint.benchedUntil = now + endpoint.benchLength;
      }
    }
    this.#release(endpoint);
  }
}

/** The pool's capacity when `teacher` is a pool (the collector's default concurrency), else undefined. */
export function poolCapacity(teacher: BlackBoxTeacher): number | undefined {
  return teacher instanceof TeacherPool ? teacher.capacity : undefined;
}

/** Per-endpoint stats when `teacher` is a pool. */
export function poolStats(teacher: BlackBoxTeacher): EndpointStats[] | undefined {
  return teacher instanceof TeacherPool ? teacher.endpointStats() : undefined;
}

/** One entry of an `openai` teacher config's `endpoints`. */
export interface OpenAIEndpointConfig extends Pick<
  OpenAITeacherOptions,
  'baseURL' | 'apiKey' | 'apiKeyEnv' | 'headers' | 'timeoutMs' | 'api'
> {
  concurrency?: number;
  requestsPerMinute?: number;
  weight?: number;
  /** Overrides the pool's model name on this endpoint (a deployment named differently). */
  model?: string;
}

/** Builds a pool of `OpenAITeacher`s sharing the model and sampling settings of `shared`. */
export function openAIPool(
  shared: Omit<OpenAITeacherOptions, 'baseURL'>,
  endpoints: readonly OpenAIEndpointConfig[],
  pool: Omit<TeacherPoolOptions, 'endpoints'> = {},
): TeacherPool {
  if (!Array.isArray(endpoints) || endpoints.length === 0)
    throw new DistilleryError('E_BAD_CONFIG', 'teacher.endpoints must list at least one endpoint', { field: 'teacher.endpoints' });
  const name = pool.name ?? shared.name ?? shared.model;
  return new TeacherPool({
    ...pool,
    name,
    endpoints: endpoints.map(({ concurrency, requestsPerMinute, weight, ...own }) => ({
      teacher: new OpenAITeacher({ ...shared, ...own, name }),
      concurrency,
      requestsPerMinute,
      weight,
    })),
  });
}
