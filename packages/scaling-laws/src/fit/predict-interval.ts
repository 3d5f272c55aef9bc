import { DistilleryError } from '@distillery/core';
import { distilledLossFromBaseline } from '../laws/distillation.js';
import { predictSupervisedLoss } from '../laws/supervised.js';
import type { DistillationFit } from './fit-distillation.js';
import type { SupervisedFit } from './fit-supervised.js';
import { percentileInterval } from './quantile.js';

export interface PredictionWithInterval {
  loss: number;
  /** Bootstrap percentile interval of the prediction. */
  lower: number;
  upper: number;
}

function requireBootstrap(fit: { bootstrap: unknown }): void {
  if (!fit.bootstrap)
    throw new DistilleryError('E_BAD_VALUE', 'this fit has no bootstrap samples: refit with options.bootstrap > 0 to get intervals', {
      field: 'fit.bootstrap',
    });
}

/** L(N, D) from a supervised fit, with the bootstrap interval of the prediction. */
export function predictSupervisedWithInterval(fit: SupervisedFit, params: number, tokens: number): PredictionWithInterval {
  requireBootstrap(fit);
  const samples = fit.bootstrap!.samples.map((law) => predictSupervisedLoss(law, params, tokens));
  const interval = percentileInterval(samples, fit.bootstrap!.level);
  return { loss: predictSupervisedLoss(fit.law, params, tokens), lower: interval.lower, upper: interval.upper };
}

/** L_S from a distillation fit (with its own supervised law), with the bootstrap interval. */
export function predictDistilledWithInterval(
  fit: DistillationFit,
  point: { studentParams: number; studentTokens: number; teacherLoss: number },
): PredictionWithInterval {
  requireBootstrap(fit);
  const baseline = predictSupervisedLoss(fit.supervisedLaw, point.studentParams, point.studentTokens);
  const samples = fit.bootstrap!.samples.map((law) => distilledLossFromBaseline(law, point, baseline));
  const interval = percentileInterval(samples, fit.bootstrap!.level);
  return { loss: distilledLossFromBaseline(fit.law, point, baseline), lower: interval.lower, upper: interval.upper };
}
