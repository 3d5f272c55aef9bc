import { requirePositive } from '@distillery/core';
import { forwardFlopsPerToken, type FlopsModel } from '../compute/flops.js';
import { distillationFlops, resolveScenario, type ComputeScenario, type ComputeSplit, type ScenarioName } from '../compute/scenarios.js';
import { distilledLossFromBaseline } from '../laws/distillation.js';
import { predictSupervisedLoss, tokensForSupervisedLoss } from '../laws/supervised.js';
import { minimize1d } from '../optim/minimize-1d.js';
import { resolvePlanning, type PlanningLaws, type ResolvedPlanning, type SearchRange } from './common.js';
import { supervisedBaseline, type SupervisedBaseline } from './supervised-optimal.js';

export interface PlanDistillationOptions {
  /** N_S, the student's non-embedding parameters (fixed: it is the model you will deploy). */
  studentParams: number;
  /** Total FLOPs C. */
  budget: number;
  scenario: ScenarioName | ComputeScenario;
  laws?: PlanningLaws;
  flops?: FlopsModel;
  /** Range of D_S, N_T and D_T (default [1e6, 1e17]). */
  range?: SearchRange;
}

export interface DistillationPlan {
  scenario: ScenarioName | 'custom';
  deltaLogits: number;
  deltaPretrain: number;
  budget: number;
  studentParams: number;
  /** False when no teacher in range leaves at least range.min tokens for the student. */
  feasible: boolean;
  studentTokens: number;
  teacherParams: number;
  teacherTokens: number;
  /** L_T = L(N_T, D_T) from the supervised law. */
  teacherLoss: number;
  /** Predicted distilled student loss L_S. */
  studentLoss: number;
  /** L~_S: the student's supervised loss on the same D_S. */
  supervisedStudentLoss: number;
  compute: ComputeSplit;
  /** The same student trained without a teacher on the whole budget. */
  supervisedBaseline: SupervisedBaseline;
  /** supervisedBaseline.loss - studentLoss (positive: distillation wins). */
  advantage: number;
  distillationWins: boolean;
  /**
   * How N_T and D_T were chosen. With no teacher cost only L_T matters, so the reported teacher is
   * the cheapest to pretrain that reaches the optimal L_T.
   */
  teacherChoice: 'optimised' | 'cheapest-teacher-for-optimal-loss';
}

interface Candidate {
  studentTokens: number;
  teacherParams: number;
  teacherTokens: number;
  teacherLoss: number;
  studentLoss: number;
  supervisedStudentLoss: number;
}

function scenarioName(scenario: ScenarioName | ComputeScenario): ScenarioName | 'custom' {
  return typeof scenario === 'string' ? scenario : 'custom';
}

/** Evaluates one teacher (N_T, D_T): the rest of the budget goes to student tokens. */
function evaluateTeacher(
  p: ResolvedPlanning,
  deltas: ComputeScenario,
  studentParams: number,
  budget: number,
  teacherParams: number,
  teacherTokens: number,
): Candidate | null {
  const studentPerToken = forwardFlopsPerToken(studentParams, p.flops);
  const teacherPerToken = forwardFlopsPerToken(teacherParams, p.flops);
  const left = budget - deltas.deltaPretrain * 3 * teacherPerToken * teacherTokens;
  const studentTokens = Math.min(p.max, left / (3 * studentPerToken + deltas.deltaLogits * teacherPerToken));
  if (!(studentTokens >= p.min)) return null;
  const teacherLoss = predictSupervisedLoss(p.supervised, teacherParams, teacherTokens);
  const supervisedStudentLoss = predictSupervisedLoss(p.supervised, studentParams, studentTokens);
  const studentLoss = distilledLossFromBaseline(p.distillation, { studentParams, studentTokens, teacherLoss }, supervisedStudentLoss);
  return { studentTokens, teacherParams, teacherTokens, teacherLoss, studentLoss, supervisedStudentLoss };
}

/** Nested 1-D searches over log N_T (outer) and log D_T (inner), each a scan plus golden section. */
function searchTeacher(p: ResolvedPlanning, deltas: ComputeScenario, studentParams: number, budget: number): Candidate | null {
  const lo = Math.log(p.min);
  const hi = Math.log(p.max);
  // exp(log(x)) can land one ulp outside the range; clamp so reported values respect it.
  const fromLog = (x: number) => Math.min(p.max, Math.max(p.min, Math.exp(x)));
  const bestTokensFor = (logTeacherParams: number) =>
    minimize1d(
      (logTeacherTokens) =>
        evaluateTeacher(p, deltas, studentParams, budget, fromLog(logTeacherParams), fromLog(logTeacherTokens))?.studentLoss ?? Infinity,
      lo,
      hi,
      {
        gridPoints: 64,
        tolerance: 1e-7,
      },
    );
  const outer = minimize1d((logTeacherParams) => bestTokensFor(logTeacherParams).f, lo, hi, { gridPoints: 64, tolerance: 1e-7 });
  if (!Number.isFinite(outer.f)) return null;
  const inner = bestTokensFor(outer.x);
  return evaluateTeacher(p, deltas, studentParams, budget, fromLog(outer.x), fromLog(inner.x));
}

/**
 * With the teacher free, only L_T matters: find the best reachable L_T, then the (N_T, D_T) that
 * reaches it with the least pretraining compute.
 */
function searchFreeTeacher(p: ResolvedPlanning, studentParams: number, budget: number): Candidate | null {
  const studentTokens = Math.min(p.max, budget / (3 * forwardFlopsPerToken(studentParams, p.flops)));
  if (!(studentTokens >= p.min)) return null;
  const supervisedStudentLoss = predictSupervisedLoss(p.supervised, studentParams, studentTokens);
  const reachableLow = predictSupervisedLoss(p.supervised, p.max, p.max);
  const reachableHigh = predictSupervisedLoss(p.supervised, p.min, p.min);
  const lossFor = (teacherLoss: number) =>
    distilledLossFromBaseline(p.distillation, { studentParams, studentTokens, teacherLoss }, supervisedStudentLoss);
  const best = minimize1d((logTeacher) => lossFor(Math.exp(logTeacher)), Math.log(reachableLow), Math.log(reachableHigh), {
    gridPoints: 256,
    tolerance: 1e-12,
  });
  const teacherLoss = Math.exp(best.x);
  const pretrainingCost = (logTeacherParams: number) => {
    const teacherParams = Math.exp(logTeacherParams);
    const teacherTokens = tokensForSupervisedLoss(p.supervised, teacherParams, teacherLoss);
    if (teacherTokens === null || teacherTokens < p.min || teacherTokens > p.max) return Infinity;
    return Math.log(forwardFlopsPerToken(teacherParams, p.flops) * teacherTokens);
  };
  const cheapest = minimize1d(pretrainingCost, Math.log(p.min), Math.log(p.max), { gridPoints: 128, tolerance: 1e-9 });
  let teacherParams = Math.min(p.max, Math.max(p.min, Math.exp(cheapest.x)));
  let teacherTokens = tokensForSupervisedLoss(p.supervised, teacherParams, teacherLoss);
  if (!Number.isFinite(cheapest.f) || teacherTokens === null) {
    // The optimal loss sits on the edge of the reachable range: use the corner that reaches it.
    teacherParams = teacherLoss <= reachableLow * (1 + 1e-12) ? p.max : p.min;
    teacherTokens = teacherParams;
  }
  return {
    studentTokens,
    teacherParams,
    teacherTokens,
    teacherLoss: predictSupervisedLoss(p.supervised, teacherParams, teacherTokens),
    studentLoss: best.f,
    supervisedStudentLoss,
  };
}

/**
 * Compute-optimal distillation of a student of fixed size under budget C (Busbridge et al., section 5):
 * chooses D_S, N_T and D_T in the range to minimise the predicted student loss, with the teacher's
 * inference and pretraining counted as the scenario says, and compares with training the same
 * student on the whole budget without a teacher.
 */
export function planDistillation(options: PlanDistillationOptions): DistillationPlan {
  requirePositive('studentParams', options.studentParams);
  requirePositive('budget', options.budget);
  const deltas = resolveScenario(options.scenario);
  const p = resolvePlanning(options.laws, options.flops, options.range);
  const free = deltas.deltaLogits === 0 && deltas.deltaPretrain === 0;
  const found = free
    ? searchFreeTeacher(p, options.studentParams, options.budget)
    : searchTeacher(p, deltas, options.studentParams, options.budget);
  const baseline = supervisedBaseline({
    studentParams: options.studentParams,
    budget: options.budget,
    law: p.supervised,
    flops: p.flops,
    max: p.max,
  });
  const common = {
    scenario: scenarioName(options.scenario),
    deltaLogits: deltas.deltaLogits,
    deltaPretrain: deltas.deltaPretrain,
    budget: options.budget,
    studentParams: options.studentParams,
    supervisedBaseline: baseline,
    teacherChoice: free ? ('cheapest-teacher-for-optimal-loss' as const) : ('optimised' as const),
  };
  if (!found) {
    return {
      ...common,
      feasible: false,
      studentTokens: NaN,
      teacherParams: NaN,
      teacherTokens: NaN,
      teacherLoss: NaN,
      studentLoss: NaN,
      supervisedStudentLoss: NaN,
      compute: { student: 0, teacherInference: 0, teacherPretraining: 0, total: 0 },
      advantage: NaN,
      distillationWins: false,
    };
  }
  const compute = distillationFlops({ ...deltas, studentParams: options.studentParams, ...found, flops: p.flops });
  const advantage = baseline.loss - found.studentLoss;
  return { ...common, feasible: true, ...found, compute, advantage, distillationWins: advantage > 0 };
}

/** The supervised baseline of `planDistillation` on its own: the same student, the whole budget, no teacher. */
export function supervisedBaselineFor(options: {
  studentParams: number;
  budget: number;
  laws?: PlanningLaws;
  flops?: FlopsModel;
  range?: SearchRange;
}): SupervisedBaseline {
  requirePositive('studentParams', options.studentParams);
  requirePositive('budget', options.budget);
  const p = resolvePlanning(options.laws, options.flops, options.range);
  return supervisedBaseline({
    studentParams: options.studentParams,
    budget: options.budget,
    law: p.supervised,
    flops: p.flops,
    max: p.max,
  });
}
