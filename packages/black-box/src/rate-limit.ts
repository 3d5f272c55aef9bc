import { badValue } from '@distillery/core';
import { sleep } from './retry.js';

export interface RateLimit {
  /** Request starts per minute (spread evenly; bursts up to `burstRequests`). */
  requestsPerMinute?: number;
  /** Prompt + completion tokens per minute (estimated before a request, corrected from `usage` after). */
  tokensPerMinute?: number;
  /** Requests that may start back to back before the per-minute pacing applies (default 1). */
  burstRequests?: number;
}

class Bucket {
  #level: number;
  #last: number;

  constructor(
    readonly capacity: number,
    readonly perMs: number,
    readonly now: () => number,
  ) {
    this.#level = capacity;
    this.#last = now();
  }

  #refill(): void {
    const t = this.now();
    this.#level = Math.min(this.capacity, this.#level + (t - this.#last) * this.perMs);
    this.#last = t;
  }

  /** Milliseconds until `amount` can be taken (0: now). Amounts above capacity wait for a full bucket. */
  wait(amount: number): number {
    this.#refill();
    const need = Math.min(amount, this.capacity);
    return this.#level >= need ? 0 : (need - this.#level) / this.perMs;
  }

  take(amount: number): void {
    this.#refill();
    this.#level -= amount;
  }

  /** Corrects an earlier estimate (positive: more was used; the bucket may go into debt). */
  adjust(delta: number): void {
    this.#refill();
    this.#level = Math.min(this.capacity, this.#level - delta);
  }
}

/**
 * Token buckets for requests and tokens per minute. `acquire` waits in FIFO order until both
 * buckets allow the request, so a big request is not starved by small ones.
 */
export class RateLimiter {
  readonly #requests: Bucket | undefined;
  readonly #tokens: Bucket | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(limit: RateLimit = {}, now: () => number = () => performance.now()) {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm, burstRequests = 1 } = limit;
    if (rpm !== undefined && !(rpm > 0)) throw badValue('rateLimit.requestsPerMinute', rpm, 'a number > 0');
    if (tpm !== undefined && !(tpm > 0)) throw badValue('rateLimit.tokensPerMinute', tpm, 'a number > 0');
    if (!(Number.isInteger(burstRequests) && burstRequests >= 1))
      throw badValue('rateLimit.burstRequests', burstRequests, 'an integer >= 1');
    this.#requests = rpm === undefined ? undefined : new Bucket(burstRequests, rpm / 60_000, now);
    this.#tokens = tpm === undefined ? undefined : new Bucket(tpm, tpm / 60_000, now);
  }

  get limited(): boolean {
    return this.#requests !== undefined || this.#tokens !== undefined;
  }

  /** Waits for a slot for one request of about `estimatedTokens` tokens. */
  acquire(estimatedTokens: number, signal?: AbortSignal): Promise<void> {
    if (!this.limited) return Promise.resolve();
    const turn = this.#queue.then(async () => {
      while (true) {
        const wait = Math.max(this.#requests?.wait(1) ?? 0, this.#tokens?.wait(estimatedTokens) ?? 0);
        if (wait <= 0) break;
        await sleep(Math.ceil(wait), signal);
      }
      this.#requests?.take(1);
      this.#tokens?.take(estimatedTokens);
    });
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  /** Tells the token bucket how many tokens a request really used (from `usage`). */
  settle(estimatedTokens: number, actualTokens: number): void {
    this.#tokens?.adjust(actualTokens - estimatedTokens);
  }
}
