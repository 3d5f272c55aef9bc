import { badValue } from '@distillery/core';

export interface Pricing {
  /** US dollars per million prompt tokens. */
  promptPerMillion: number;
  /** US dollars per million completion tokens. */
  completionPerMillion: number;
}

export interface Budget {
  /** Most HTTP requests (attempts, retries included) this run may send. */
  maxRequests?: number;
  /** Most prompt + completion tokens. */
  maxTokens?: number;
  /** Most estimated spend in USD (needs `pricing`). */
  maxCostUsd?: number;
  pricing?: Pricing;
}

export interface Spend {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/**
 * Keeps a run inside its budget. Before each attempt `tryReserve` checks the spend so far plus what
 * the requests in flight may still cost (their estimates) plus this one's. When only the in-flight
 * estimates stand in the way the attempt waits for them to settle (estimates are pessimistic, so a
 * run at concurrency 8 still gets to within one request's estimate of `maxTokens`); when the cap
 * would be crossed even alone the collector stops starting requests, lets the in-flight ones finish
 * and returns with `stopped: 'budget'`.
 */
export class BudgetTracker {
  readonly #budget: Budget;
  readonly spend: Spend = { requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  #reservedTokens = 0;
  #reservedCost = 0;
  exhausted = false;

  constructor(budget: Budget = {}) {
    for (const key of ['maxRequests', 'maxTokens', 'maxCostUsd'] as const) {
      const v = budget[key];
      if (v !== undefined && !(typeof v === 'number' && v >= 0)) throw badValue(`budget.${key}`, v, 'a number >= 0');
    }
    if (budget.maxCostUsd !== undefined && !budget.pricing)
      throw badValue('budget.pricing', undefined, 'prices per million tokens when maxCostUsd is set');
    this.#budget = budget;
  }

  cost(promptTokens: number, completionTokens: number): number {
    const p = this.#budget.pricing;
    return p ? (promptTokens * p.promptPerMillion + completionTokens * p.completionPerMillion) / 1e6 : 0;
  }

  #reservations = 0;
  #waiters: (() => void)[] = [];

  /**
   * Reserves one request of about (prompt, completion) tokens. `ok`: go ahead. `wait`: it would cross
   * a token/cost cap only because of requests still in flight, whose estimates usually exceed what
   * they really use: wait for one to settle (`settled()`) and ask again. `over`: it would cross a cap
   * even alone: the budget is spent.
   */
  tryReserve(promptTokens: number, completionTokens: number): 'ok' | 'wait' | 'over' {
    const b = this.#budget;
    const tokens = promptTokens + completionTokens;
    const cost = this.cost(promptTokens, completionTokens);
    const used = this.spend.promptTokens + this.spend.completionTokens;
    if (b.maxRequests !== undefined && this.spend.requests + 1 > b.maxRequests) return this.#over();
    if (
      (b.maxTokens !== undefined && used + tokens > b.maxTokens) ||
      (b.maxCostUsd !== undefined && this.spend.costUsd + cost > b.maxCostUsd)
    )
      return this.#over();
    const crowded =
      (b.maxTokens !== undefined && used + this.#reservedTokens + tokens > b.maxTokens) ||
      (b.maxCostUsd !== undefined && this.spend.costUsd + this.#reservedCost + cost > b.maxCostUsd);
    if (crowded) return this.#reservations > 0 ? 'wait' : this.#over();
    this.spend.requests++;
    this.#reservations++;
    this.#reservedTokens += tokens;
    this.#reservedCost += cost;
    return 'ok';
  }

  #over(): 'over' {
    this.exhausted = true;
    return 'over';
  }

  /** Reserves one request; false when that would cross a cap (see `tryReserve`; this never waits). */
  reserve(promptTokens: number, completionTokens: number): boolean {
    return this.tryReserve(promptTokens, completionTokens) === 'ok';
  }

  /** Resolves at the next `settle` (a reservation released). */
  settled(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Releases a reservation and records what was really used (0, 0 for a failed attempt). */
  settle(reserved: { promptTokens: number; completionTokens: number }, used: { promptTokens: number; completionTokens: number }): void {
    this.#reservations--;
    this.#reservedTokens -= reserved.promptTokens + reserved.completionTokens;
    this.#reservedCost -= this.cost(reserved.promptTokens, reserved.completionTokens);
    this.spend.promptTokens += used.promptTokens;
    this.spend.completionTokens += used.completionTokens;
    this.spend.costUsd += this.cost(used.promptTokens, used.completionTokens);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
