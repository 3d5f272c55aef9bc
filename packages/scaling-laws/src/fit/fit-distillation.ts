import type { DistillationRun } from '../data/runs.js';
import { validateDistillationRuns } from '../data/runs.js';
import { predictSupervisedLoss } from '../laws/supervised.js';
import type { DistillationLaw, SupervisedLaw } from '../laws/types.js';
import { DistillationObjective } from './distillation-objective.js';
import { fitModel, type CoordinateSpec, type ModelSpec } from './engine.js';
import type { SupervisedFit } from './fit-supervised.js';
import { DISTILLATION_GRID } from './grids.js';
import { boundPair, checkCommonOptions, countDistinct, requireEnoughRuns } from './options.js';
import type { CommonFitOptions, FitDiagnostic, FitResultBase } from './types.js';

type DistillationBoundName = 'alpha' | 'beta' | 'gamma' | 'c0' | 'c1' | 'f1' | 'd1';

export interface DistillationFitOptions extends CommonFitOptions {
  /**
   * Search box in the law's units. Defaults: alpha, beta [0, 5]; gamma [0.05, 5]; c0 [-5, 10];
   * c1 [0.01, 1e5]; f1 [0.01, 5] (kept away from the singular f1 = 0); d1 [0.2, 5].
   */
  bounds?: Partial<Record<DistillationBoundName, [number, number]>>;
}

export interface DistillationResidual {
  row: number;
  studentParams: number;
  studentTokens: number;
  teacherLoss: number;
  /** L~_S = L(N_S, D_S) from the supervised law (stage one). */
  supervisedLoss: number;
  loss: number;
  predicted: number;
  logResidual: number;
}

export interface DistillationFit extends FitResultBase<DistillationLaw> {
  kind: 'distillation';
  /** The stage-one law L~_S came from; predictions with this fit must use it too. */
  supervisedLaw: SupervisedLaw;
  residuals: DistillationResidual[];
}

/** Busbridge et al.'s Huber delta. */
export const DEFAULT_DISTILLATION_HUBER_DELTA = 1e-4;
const CENTRED_LOG_BOUND = 30;

function designDiagnostics(runs: readonly DistillationRun[], teacherLosses: readonly number[], parameterCount: number): FitDiagnostic[] {
  const out: FitDiagnostic[] = [];
  if (runs.length < 2 * parameterCount) {
    out.push({
      severity: 'warning',
      code: 'few-runs',
      message: `${runs.length} runs for ${parameterCount} parameters: with fewer than ${2 * parameterCount} runs the distillation law nearly interpolates.`,
    });
  }
  const axes: [string, number, string[]][] = [
    ['student size', countDistinct(runs.map((r) => r.studentParams)), ['A', 'alpha']],
    ['token count', countDistinct(runs.map((r) => r.studentTokens)), ['B', 'beta']],
    ['teacher loss', countDistinct(teacherLosses), ['c0', 'c1', 'f1', 'd1']],
  ];
  const narrow = axes.filter(([, count]) => count < 3);
  if (narrow.length > 0) {
    out.push({
      severity: 'warning',
      code: 'narrow-design',
      parameters: narrow.flatMap(([, , names]) => names),
      message: `Only ${narrow.map(([what, count]) => `${count} distinct ${what}${count === 1 ? '' : 's'}`).join(' and ')}: each axis needs at least 3 distinct values.`,
    });
  }
  return out;
}

function supervisedLawOf(supervised: SupervisedFit | SupervisedLaw): SupervisedLaw {
  return 'law' in supervised ? supervised.law : supervised;
}

/**
 * Stage two of Busbridge et al.'s protocol: with the supervised law fixed (L~_S = L(N_S, D_S)), fits
 * the distillation law's nine coefficients to the student losses. Teacher losses are taken from the
 * runs, or from the supervised law at the teacher's size and tokens when a run gives those instead.
 * Bootstrap intervals are conditional on the supervised law.
 */
export function fitDistillation(
  runs: readonly DistillationRun[],
  supervised: SupervisedFit | SupervisedLaw,
  options: DistillationFitOptions = {},
): DistillationFit {
  checkCommonOptions(options);
  validateDistillationRuns(runs);
  const dimension = 9;
  requireEnoughRuns(runs.length, dimension, 'distillation runs');
  const supervisedLaw = supervisedLawOf(supervised);
  const delta = options.huberDelta ?? DEFAULT_DISTILLATION_HUBER_DELTA;

  const teacherLosses = runs.map((r) => r.teacherLoss ?? predictSupervisedLoss(supervisedLaw, r.teacherParams!, r.teacherTokens!));
  const supervisedLosses = runs.map((r) => predictSupervisedLoss(supervisedLaw, r.studentParams, r.studentTokens));
  const logParams = Float64Array.from(runs, (r) => Math.log(r.studentParams));
  const logTokens = Float64Array.from(runs, (r) => Math.log(r.studentTokens));
  const centreN = logParams.reduce((s, v) => s + v, 0) / runs.length;
  const centreD = logTokens.reduce((s, v) => s + v, 0) / runs.length;
  const objective = new DistillationObjective(
    {
      logStudentParams: logParams.map((v) => v - centreN),
      logStudentTokens: logTokens.map((v) => v - centreD),
      logTeacherLoss: Float64Array.from(teacherLosses, Math.log),
      logSupervisedLoss: Float64Array.from(supervisedLosses, Math.log),
      logStudentLoss: Float64Array.from(runs, (r) => Math.log(r.studentLoss)),
    },
    delta,
  );

  const b = options.bounds ?? {};
  const alpha = boundPair('options.bounds.alpha', b.alpha, [0, 5]);
  const beta = boundPair('options.bounds.beta', b.beta, [0, 5]);
  const gamma = boundPair('options.bounds.gamma', b.gamma, [0.05, 5], true);
  const c0 = boundPair('options.bounds.c0', b.c0, [-5, 10]);
  const c1 = boundPair('options.bounds.c1', b.c1, [0.01, 1e5], true);
  const f1 = boundPair('options.bounds.f1', b.f1, [0.01, 5], true);
  const d1 = boundPair('options.bounds.d1', b.d1, [0.2, 5], true);
  const identity = (v: number) => v;
  const coordinates: CoordinateSpec[] = [
    {
      name: 'aCentred',
      lawName: 'A',
      kind: 'log-coefficient',
      dependsOn: ['alpha'],
      lower: -CENTRED_LOG_BOUND,
      upper: CENTRED_LOG_BOUND,
      toLawUnits: (v, t) => Math.exp(v + t[2]! * centreN),
    },
    {
      name: 'bCentred',
      lawName: 'B',
      kind: 'log-coefficient',
      dependsOn: ['beta'],
      lower: -CENTRED_LOG_BOUND,
      upper: CENTRED_LOG_BOUND,
      toLawUnits: (v, t) => Math.exp(v + t[3]! * centreD),
    },
    { name: 'alpha', lawName: 'alpha', kind: 'exponent', lower: alpha[0], upper: alpha[1], toLawUnits: identity },
    { name: 'beta', lawName: 'beta', kind: 'exponent', lower: beta[0], upper: beta[1], toLawUnits: identity },
    { name: 'gamma', lawName: 'gamma', kind: 'exponent', lower: gamma[0], upper: gamma[1], toLawUnits: identity },
    { name: 'c0', lawName: 'c0', kind: 'exponent', lower: c0[0], upper: c0[1], toLawUnits: identity },
    { name: 'logC1', lawName: 'c1', kind: 'log-coefficient', lower: Math.log(c1[0]), upper: Math.log(c1[1]), toLawUnits: Math.exp },
    { name: 'f1', lawName: 'f1', kind: 'shape', lower: f1[0], upper: f1[1], toLawUnits: identity },
    // d1 trades against c1 along c1 d1^(-1/f1) = const, so it is only determined when c1 is.
    { name: 'd1', lawName: 'd1', kind: 'shape', dependsOn: ['c1'], lower: d1[0], upper: d1[1], toLawUnits: identity },
  ];
  const toLaw = (theta: Float64Array): DistillationLaw => ({
    A: Math.exp(theta[0]! + theta[2]! * centreN),
    B: Math.exp(theta[1]! + theta[3]! * centreD),
    alpha: theta[2]!,
    beta: theta[3]!,
    gamma: theta[4]!,
    c0: theta[5]!,
    c1: Math.exp(theta[6]!),
    f1: theta[7]!,
    d1: theta[8]!,
  });
  const spec: ModelSpec<DistillationLaw> = {
    coordinates,
    objective,
    gridAxes: DISTILLATION_GRID,
    gridToOptimizer: (starts) => {
      for (let k = 0; k < starts.length; k += dimension) {
        starts[k] = starts[k]! - starts[k + 2]! * centreN;
        starts[k + 1] = starts[k + 1]! - starts[k + 3]! * centreD;
        // The singular start f1 = 0 (1/f1 in the law) is moved onto the lower bound.
        if (!(starts[k + 7]! >= f1[0])) starts[k + 7] = f1[0];
      }
    },
    toLaw,
    huberDelta: delta,
    designDiagnostics: designDiagnostics(runs, teacherLosses, dimension),
  };
  const result = fitModel(spec, options);
  const residuals = runs.map((run, i) => {
    const logResidual = result.logResiduals[i]!;
    return {
      row: run.row ?? i + 1,
      studentParams: run.studentParams,
      studentTokens: run.studentTokens,
      teacherLoss: teacherLosses[i]!,
      supervisedLoss: supervisedLosses[i]!,
      loss: run.studentLoss,
      predicted: run.studentLoss * Math.exp(logResidual),
      logResidual,
    };
  });
  const { theta: _theta, logResiduals: _logResiduals, ...base } = result;
  return { kind: 'distillation', supervisedLaw: { ...supervisedLaw }, ...base, residuals };
}
