import { badValue, requirePositive } from '@distillery/core';
import { SIMPLE_FLOPS, type FlopsModel } from '../compute/flops.js';
import { BUSBRIDGE_DISTILLATION, BUSBRIDGE_SUPERVISED } from '../laws/presets.js';
import type { DistillationLaw, SupervisedLaw } from '../laws/types.js';

export interface PlanningLaws {
  /** Default: Busbridge et al.'s supervised law. */
  supervised?: SupervisedLaw;
  /** Default: Busbridge et al.'s distillation law. */
  distillation?: DistillationLaw;
}

/** Search range of D_S, N_T and D_T (the paper's [1e6, 1e17]). */
export interface SearchRange {
  min?: number;
  max?: number;
}

export interface ResolvedPlanning {
  supervised: SupervisedLaw;
  distillation: DistillationLaw;
  flops: FlopsModel;
  min: number;
  max: number;
}

export function resolvePlanning(
  laws: PlanningLaws | undefined,
  flops: FlopsModel | undefined,
  range: SearchRange | undefined,
): ResolvedPlanning {
  const min = range?.min ?? 1e6;
  const max = range?.max ?? 1e17;
  requirePositive('range.min', min);
  requirePositive('range.max', max);
  if (!(max > min)) throw badValue('range.max', max, `a number above range.min (${min})`);
  return {
    supervised: laws?.supervised ?? BUSBRIDGE_SUPERVISED,
    distillation: laws?.distillation ?? BUSBRIDGE_DISTILLATION,
    flops: flops ?? SIMPLE_FLOPS,
    min,
    max,
  };
}
