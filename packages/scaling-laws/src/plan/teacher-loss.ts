import { requirePositive } from '@distillery/core';
import { distilledLossFromBaseline } from '../laws/distillation.js';
import { predictSupervisedLoss } from '../laws/supervised.js';
import { minimize1d } from '../optim/minimize-1d.js';
import { resolvePlanning, type PlanningLaws } from './common.js';

export interface TeacherLossPoint {
  teacherLoss: number;
  studentLoss: number;
}

/**
 * Student loss as the teacher's loss varies, for a fixed student and token count: the capacity gap
 * shows as a U, the best teacher is not the strongest one.
 */
export function teacherLossSweep(options: {
  studentParams: number;
  studentTokens: number;
  teacherLosses: readonly number[];
  laws?: PlanningLaws;
}): TeacherLossPoint[] {
  const { supervised, distillation } = resolvePlanning(options.laws, undefined, undefined);
  const baseline = predictSupervisedLoss(supervised, options.studentParams, options.studentTokens);
  return options.teacherLosses.map((teacherLoss) => ({
    teacherLoss,
    studentLoss: distilledLossFromBaseline(
      distillation,
      { studentParams: options.studentParams, studentTokens: options.studentTokens, teacherLoss },
      baseline,
    ),
  }));
}

export interface OptimalTeacher {
  teacherLoss: number;
  studentLoss: number;
  /** L~_S: the same student trained without a teacher on the same tokens. */
  supervisedLoss: number;
}

/**
 * The teacher loss that minimises the student's loss (studentTokens may be Infinity). The search
 * runs over log L_T in [log lower, log upper]; defaults span every plausible cross-entropy.
 */
export function optimalTeacherLoss(options: {
  studentParams: number;
  studentTokens: number;
  laws?: PlanningLaws;
  lower?: number;
  upper?: number;
}): OptimalTeacher {
  requirePositive('studentParams', options.studentParams);
  const { supervised, distillation } = resolvePlanning(options.laws, undefined, undefined);
  const supervisedLoss = predictSupervisedLoss(supervised, options.studentParams, options.studentTokens);
  const point = { studentParams: options.studentParams, studentTokens: options.studentTokens };
  const lower = options.lower ?? 0.5;
  const upper = options.upper ?? 10;
  const best = minimize1d(
    (logTeacher) => distilledLossFromBaseline(distillation, { ...point, teacherLoss: Math.exp(logTeacher) }, supervisedLoss),
    Math.log(lower),
    Math.log(upper),
    { gridPoints: 400, tolerance: 1e-12 },
  );
  return { teacherLoss: Math.exp(best.x), studentLoss: best.f, supervisedLoss };
}
