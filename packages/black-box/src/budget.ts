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
 * Keeps a run inside its budget. Before each attempt `reserve` checks the spend so far plus what
 * the requests in flight may still cost (their estimates) plus this one's; when the cap would be
 * crossed it refuses and the collector stops starting requests, lets the in-flight ones finish and
 * returns with `stopped: 'budget'`.
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
    if (budget.maxCostUsd !== undefined && !budget.pricing) throw badValue('budget.pricing', undefined, 'prices per million tokens when maxCostUsd is set');
    this.#budget = budget;
  }

  cost(promptTokens: number, completionTokens: number): number {
    const p = this.#budget.pricing;
    return p ? (promptTokens * p.promptPerMillion + completionTokens * p.completionPerMillion) / 1e6 : 0;
  }

  /** Reserves one request of about (prompt, completion) tokens; false when that would cross a cap. */
  reserve(promptTokens: number, completionTokens: number): boolean {
    const b = this.#budget;
    const tokens = promptTokens + completionTokens;
    const cost = this.cost(promptTokens, completionTokens);
    const over =
      (b.maxRequests !== undefined && this.spend.requests + 1 > b.maxRequests) ||
      (b.maxTokens !== undefined && this.spend.promptTokens + this.spend.completionTokens + this.#reservedTokens + tokens > b.maxTokens) ||
      (b.maxCostUsd !== undefined && this.spend.costUsd + this.#reservedCost + cost > b.maxCostUsd);
    if (over) {
      this.exhausted = true;
      return false;
    }
    this.spend.requests++;
    this.#reservedTokens += tokens;
    this.#reservedCost += cost;
    return true;
  }

  /** Releases a reservation and records what was really used (0, 0 for a failed attempt). */
  settle(reserved: { promptTokens: number; completionTokens: number }, used: { promptTokens: number; completionTokens: number }): void {
    this.#reservedTokens -= reserved.promptTokens + reserved.completionTokens;
    this.#reservedCost -= this.cost(reserved.promptTokens, reserved.completionTokens);
    this.spend.promptTokens += used.promptTokens;
    this.spend.completionTokens += used.completionTokens;
    this.spend.costUsd += this.cost(used.promptTokens, used.completionTokens);
  }
}
