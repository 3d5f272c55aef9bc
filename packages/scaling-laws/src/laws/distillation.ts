import { requirePositive } from '@distillery/core';
import { softplus } from '../log-sum-exp.js';
import { predictSupervisedLoss } from './supervised.js';
import type { DistillationLaw, SupervisedLaw } from './types.js';

/**
 * f1 * softplus(z / f1), the smooth switch inside the distillation law written in log space:
 * log[(1 + (L_T / (L~_S d1))^(1/f1))^(f1)] with z = log(L_T / (L~_S d1)).
 * As f1 -> 0 it tends to max(z, 0); that limit is used below a tiny f1 so f1 = 0 never divides by zero.
 */
export function smoothSwitch(z: number, f1: number): number {
  if (f1 < 1e-12) return Math.max(z, 0);
  const u = z / f1;
  return f1 * softplus(u);
}

export interface DistillationPoint {
  /** Student non-embedding parameters N_S. */
  studentParams: number;
  /** Distillation tokens D_S (Infinity for the infinite-data limit). */
  studentTokens: number;
  /** Teacher cross-entropy L_T. */
  teacherLoss: number;
}

/**
 * Student loss from the distillation law, given L~_S (the loss the same student would reach with
 * supervised training on the same tokens). Works entirely in log space so that huge c1 and tiny f1
 * neither overflow nor underflow.
 */
export function distilledLossFromBaseline(law: DistillationLaw, point: DistillationPoint, supervisedStudentLoss: number): number {
  const { studentParams, studentTokens, teacherLoss } = point;
  const logTeacher = Math.log(teacherLoss);
  const dataTerm = studentTokens === Infinity ? 0 : law.B / Math.pow(studentTokens, law.beta);
  const logPower = law.gamma * Math.log(law.A / Math.pow(studentParams, law.alpha) + dataTerm);
  const z = logTeacher - Math.log(supervisedStudentLoss) - Math.log(law.d1);
  const logGap = -law.c0 * logTeacher - law.c1 * smoothSwitch(z, law.f1) + logPower;
  return teacherLoss + Math.exp(logGap);
}

/** L_S(N_S, D_S, L_T) with L~_S = L(N_S, D_S) taken from `supervised`. */
export function predictDistilledLoss(laws: { supervised: SupervisedLaw; distillation: DistillationLaw }, point: DistillationPoint): number {
  requirePositive('studentParams', point.studentParams);
  if (point.studentTokens !== Infinity) requirePositive('studentTokens', point.studentTokens);
  requirePositive('teacherLoss', point.teacherLoss);
  const baseline = predictSupervisedLoss(laws.supervised, point.studentParams, point.studentTokens);
  return distilledLossFromBaseline(laws.distillation, point, baseline);
}
