import { requirePositive } from '@distillery/core';
import { forwardFlopsPerToken, SIMPLE_FLOPS, type FlopsModel } from '../compute/flops.js';
import type { ComputeScenario, ScenarioName } from '../compute/scenarios.js';
import { bisectRoot } from '../optim/minimize-1d.js';
import type { PlanningLaws, SearchRange } from './common.js';
import { planDistillation } from './plan-distillation.js';

export interface CrossoverOptions {
  studentParams: number;
  scenario: ScenarioName | ComputeScenario;
  laws?: PlanningLaws;
  flops?: FlopsModel;
  range?: SearchRange;
  /**
   * Budgets searched, in FLOPs. Default: from the budget that gives the supervised student one token
   * per parameter (below it the laws are extrapolated far outside any fitted run) to 1e28.
   */
  budgets?: [number, number];
}

export interface Crossover {
  /**
   * 'crossover': distillation wins below `budget` and supervised training wins above it;
   * 'distillation-always' / 'supervised-always': no change of sign within the searched budgets.
   */
  status: 'crossover' | 'distillation-always' | 'supervised-always';
  /** FLOPs where the two predicted losses are equal (null without a crossover). */
  budget: number | null;
  /** Tokens the supervised student would train on at that budget. */
  supervisedTokens: number | null;
  /** Student loss at the crossover. */
  loss: number | null;
}

/**
 * The budget at which distillation stops beating supervised training for a student of fixed size:
 * scans log C for the first change of sign of (distilled - supervised) loss, then bisects.
 */
export function distillationCrossover(options: CrossoverOptions): Crossover {
  requirePositive('studentParams', options.studentParams);
  const [lo, hi] = options.budgets ?? [
    3 * forwardFlopsPerToken(options.studentParams, options.flops ?? SIMPLE_FLOPS) * options.studentParams,
    1e28,
  ];
  requirePositive('budgets[0]', lo);
  requirePositive('budgets[1]', hi);
  const plan = (budget: number) => planDistillation({ ...options, budget });
  const gap = (logBudget: number) => {
    const p = plan(Math.exp(logBudget));
    // An infeasible plan (too little budget for any teacher) counts as a supervised win.
    return p.feasible ? p.studentLoss - p.supervisedBaseline.loss : 1;
  };
  const steps = 44;
  const logLo = Math.log(lo);
  const logHi = Math.log(hi);
  let previous = gap(logLo);
  let sawDistillationWin = previous < 0;
  let previousX = logLo;
  for (let i = 1; i <= steps; i++) {
    const x = logLo + ((logHi - logLo) * i) / steps;
    const value = gap(x);
    if (previous < 0 && value >= 0) {
      const root = bisectRoot(gap, previousX, x, 1e-6);
      const p = plan(Math.exp(root));
      return {
        status: 'crossover',
        budget: Math.exp(root),
        supervisedTokens: p.supervisedBaseline.tokens,
        loss: p.supervisedBaseline.loss,
      };
    }
    if (value < 0) sawDistillationWin = true;
    previous = value;
    previousX = x;
  }
  return { status: sawDistillationWin ? 'distillation-always' : 'supervised-always', budget: null, supervisedTokens: null, loss: null };
}
