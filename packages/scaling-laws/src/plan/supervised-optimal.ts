import { requirePositive } from '@distillery/core';
import { forwardFlopsPerToken, type FlopsModel } from '../compute/flops.js';
import { predictSupervisedLoss } from '../laws/supervised.js';
import type { SupervisedLaw } from '../laws/types.js';
import { minimize1d } from '../optim/minimize-1d.js';
import { resolvePlanning, type SearchRange } from './common.js';

export interface SupervisedOptimum {
  params: number;
  tokens: number;
  loss: number;
  budget: number;
}

/**
 * Compute-optimal supervised model for a budget: minimises L(N, D) subject to 3 F(N) D = C over
 * N in the search range. With F(N) = 2N and Busbridge's law, C = 1e21 gives N ~ 3.054e9, D ~ 5.458e10.
 */
export function supervisedComputeOptimal(options: {
  budget: number;
  law?: SupervisedLaw;
  flops?: FlopsModel;
  range?: SearchRange;
}): SupervisedOptimum {
  requirePositive('budget', options.budget);
  const { supervised, flops, min, max } = resolvePlanning(
    options.law ? { supervised: options.law } : undefined,
    options.flops,
    options.range,
  );
  const tokensFor = (params: number) => options.budget / (3 * forwardFlopsPerToken(params, flops));
  const lossAt = (logParams: number) => {
    const params = Math.exp(logParams);
    const tokens = tokensFor(params);
    if (tokens < min || tokens > max) return Infinity;
    return predictSupervisedLoss(supervised, params, tokens);
  };
  const best = minimize1d(lossAt, Math.log(min), Math.log(max), { gridPoints: 96, tolerance: 1e-10 });
  const params = Math.exp(best.x);
  return { params, tokens: tokensFor(params), loss: best.f, budget: options.budget };
}

export interface SupervisedBaseline {
  params: number;
  tokens: number;
  loss: number;
}

/**
 * The same student trained without a teacher on the whole budget: D = C / (3 F(N_S)), capped at
 * the range's max (beyond it the law is not trusted and the budget is not spent).
 */
export function supervisedBaseline(options: {
  studentParams: number;
  budget: number;
  law: SupervisedLaw;
  flops: FlopsModel;
  max: number;
}): SupervisedBaseline {
  const tokens = Math.min(options.max, options.budget / (3 * forwardFlopsPerToken(options.studentParams, options.flops)));
  return { params: options.studentParams, tokens, loss: predictSupervisedLoss(options.law, options.studentParams, tokens) };
}
