import { requirePositive } from '@distillery/core';
import type { SupervisedLaw } from './types.js';

/** The reducible part (A / N^alpha + B / D^beta)^gamma; D = Infinity drops the data term. */
export function supervisedReducibleLoss(law: SupervisedLaw, params: number, tokens: number): number {
  const dataTerm = tokens === Infinity ? 0 : law.B / Math.pow(tokens, law.beta);
  return Math.pow(law.A / Math.pow(params, law.alpha) + dataTerm, law.gamma);
}

/** L(N, D) = E + (A / N^alpha + B / D^beta)^gamma. Pass tokens = Infinity for the infinite-data limit. */
export function predictSupervisedLoss(law: SupervisedLaw, params: number, tokens: number): number {
  requirePositive('params', params);
  if (tokens !== Infinity) requirePositive('tokens', tokens);
  return law.E + supervisedReducibleLoss(law, params, tokens);
}

/**
 * Tokens a model of `params` parameters needs to reach `loss` under the law, or null when the loss is
 * at or below what infinite data would give that model. Inverts B / D^beta = (L - E)^(1/gamma) - A / N^alpha.
 */
export function tokensForSupervisedLoss(law: SupervisedLaw, params: number, loss: number): number | null {
  const reducible = loss - law.E;
  if (!(reducible > 0)) return null;
  const dataTerm = Math.pow(reducible, 1 / law.gamma) - law.A / Math.pow(params, law.alpha);
  if (!(dataTerm > 0)) return null;
  return Math.pow(law.B / dataTerm, 1 / law.beta);
}
