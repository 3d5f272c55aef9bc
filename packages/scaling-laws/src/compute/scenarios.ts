import { badValue } from '@distillery/core';
import type { FlopsModel } from './flops.js';
import { forwardFlopsPerToken, SIMPLE_FLOPS } from './flops.js';

/**
 * Which teacher costs count against the budget (Busbridge et al., section 5):
 * free (an existing teacher, delta = 0, 0), inference (teacher logits paid, 1, 0),
 * pretraining (teacher training paid, 0, 1), both (1, 1).
 */
export type ScenarioName = 'free' | 'inference' | 'pretraining' | 'both';

export interface ComputeScenario {
  /** delta_logits: fraction of the teacher's forward passes over D_S that is paid. */
  deltaLogits: number;
  /** delta_pretrain: fraction of the teacher's pretraining that is paid (1/k to share it between k students). */
  deltaPretrain: number;
}

export const SCENARIOS: Readonly<Record<ScenarioName, Readonly<ComputeScenario>>> = Object.freeze({
  free: Object.freeze({ deltaLogits: 0, deltaPretrain: 0 }),
  inference: Object.freeze({ deltaLogits: 1, deltaPretrain: 0 }),
  pretraining: Object.freeze({ deltaLogits: 0, deltaPretrain: 1 }),
  both: Object.freeze({ deltaLogits: 1, deltaPretrain: 1 }),
});

export function resolveScenario(scenario: ScenarioName | ComputeScenario): ComputeScenario {
  if (typeof scenario === 'string') {
    const known = SCENARIOS[scenario];
    if (!known) throw badValue('scenario', scenario, `one of ${Object.keys(SCENARIOS).join(', ')} or { deltaLogits, deltaPretrain }`);
    return known;
  }
  const { deltaLogits, deltaPretrain } = scenario;
  if (!(deltaLogits >= 0 && Number.isFinite(deltaLogits))) throw badValue('scenario.deltaLogits', deltaLogits, 'a finite number >= 0');
  if (!(deltaPretrain >= 0 && Number.isFinite(deltaPretrain)))
    throw badValue('scenario.deltaPretrain', deltaPretrain, 'a finite number >= 0');
  return { deltaLogits, deltaPretrain };
}

export interface DistillationComputeInput extends ComputeScenario {
  studentParams: number;
  studentTokens: number;
  teacherParams: number;
  teacherTokens: number;
  flops?: FlopsModel;
}

export interface ComputeSplit {
  /** 3 F(N_S) D_S. */
  student: number;
  /** delta_logits F(N_T) D_S. */
  teacherInference: number;
  /** delta_pretrain 3 F(N_T) D_T. */
  teacherPretraining: number;
  total: number;
}

/** FLOPs = 3 F(N_S) D_S + F(N_T) (delta_logits D_S + delta_pretrain 3 D_T). */
export function distillationFlops(input: DistillationComputeInput): ComputeSplit {
  const flops = input.flops ?? SIMPLE_FLOPS;
  const student = 3 * forwardFlopsPerToken(input.studentParams, flops) * input.studentTokens;
  const teacherPerToken = forwardFlopsPerToken(input.teacherParams, flops);
  const teacherInference = input.deltaLogits === 0 ? 0 : input.deltaLogits * teacherPerToken * input.studentTokens;
  const teacherPretraining = input.deltaPretrain === 0 ? 0 : input.deltaPretrain * 3 * teacherPerToken * input.teacherTokens;
  return { student, teacherInference, teacherPretraining, total: student + teacherInference + teacherPretraining };
}
