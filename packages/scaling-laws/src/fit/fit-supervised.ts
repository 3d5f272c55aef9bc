import type { SupervisedRun } from '../data/runs.js';
import { validateSupervisedRuns } from '../data/runs.js';
import type { SupervisedLaw } from '../laws/types.js';
import { fitModel, type CoordinateSpec, type ModelSpec } from './engine.js';
import { BUSBRIDGE_SUPERVISED_GRID, CHINCHILLA_GRID } from './grids.js';
import { boundPair, checkCommonOptions, countDistinct, requireEnoughRuns } from './options.js';
import { SupervisedObjective, type SupervisedForm } from './supervised-objective.js';
import { percentileInterval } from './quantile.js';
import type { CommonFitOptions, FitDiagnostic, FitResultBase } from './types.js';

export type { SupervisedForm } from './supervised-objective.js';

export interface SupervisedFitOptions extends CommonFitOptions {
  /** 'busbridge' (default): gamma free; 'chinchilla': gamma = 1. */
  form?: SupervisedForm;
  /**
   * Search box in the law's units. Defaults: E [1e-3, 20], alpha and beta [0, 5], gamma [0.05, 5].
   * A and B are searched through their centred logs (see docs), within e^±30 at the average run.
   */
  bounds?: Partial<Record<'E' | 'alpha' | 'beta' | 'gamma', [number, number]>>;
}

export interface SupervisedResidual {
  row: number;
  params: number;
  tokens: number;
  loss: number;
  predicted: number;
  /** log(predicted) - log(observed). */
  logResidual: number;
}

export interface SupervisedFit extends FitResultBase<SupervisedLaw> {
  kind: 'supervised';
  form: SupervisedForm;
  residuals: SupervisedResidual[];
  /**
   * The prediction people usually want next: 10x the largest model on 10x the most tokens, with its
   * bootstrap interval (null without a bootstrap). A wide interval here is the practical cost of the
   * coefficients' uncertainty.
   */
  extrapolation: { params: number; tokens: number; loss: number; lower: number; upper: number } | null;
}

/** Default Huber delta of each protocol: Chinchilla used 1e-3, Busbridge et al. 1e-4. */
export const DEFAULT_HUBER_DELTA: Readonly<Record<SupervisedForm, number>> = { chinchilla: 1e-3, busbridge: 1e-4 };

/** Bound on the centred log coefficients: a size or data term between e^-30 and e^30 at the average run. */
const CENTRED_LOG_BOUND = 30;

function designDiagnostics(runs: readonly SupervisedRun[], parameterCount: number): FitDiagnostic[] {
  const out: FitDiagnostic[] = [];
  if (runs.length < 2 * parameterCount) {
    out.push({
      severity: 'warning',
      code: 'few-runs',
      message: `${runs.length} runs for ${parameterCount} parameters: with fewer than ${2 * parameterCount} runs the fit nearly interpolates and its coefficients mean little.`,
    });
  }
  const sizes = countDistinct(runs.map((r) => r.params));
  const tokens = countDistinct(runs.map((r) => r.tokens));
  if (sizes < 3 || tokens < 3) {
    const which = [
      sizes < 3 ? `${sizes} distinct model size${sizes === 1 ? '' : 's'}` : null,
      tokens < 3 ? `${tokens} distinct token count${tokens === 1 ? '' : 's'}` : null,
    ].filter(Boolean);
    out.push({
      severity: 'warning',
      code: 'narrow-design',
      parameters: [...(sizes < 3 ? ['A', 'alpha'] : []), ...(tokens < 3 ? ['B', 'beta'] : [])],
      message: `Only ${which.join(' and ')}: a power law needs at least 3 distinct values along each axis to be identified.`,
    });
  }
  return out;
}

/**
 * Fits L(N, D) = E + (A / N^alpha + B / D^beta)^gamma (gamma = 1 for form 'chinchilla') by the papers'
 * protocol: Huber loss on log residuals, log-sum-exp parametrisation, multistart bounded L-BFGS,
 * bootstrap percentile intervals. Deterministic for a given seed.
 */
export function fitSupervised(runs: readonly SupervisedRun[], options: SupervisedFitOptions = {}): SupervisedFit {
  checkCommonOptions(options);
  const form = options.form ?? 'busbridge';
  const dimension = form === 'chinchilla' ? 5 : 6;
  validateSupervisedRuns(runs);
  requireEnoughRuns(runs.length, dimension, 'supervised runs');
  const delta = options.huberDelta ?? DEFAULT_HUBER_DELTA[form];

  // Centring log N and log D decorrelates log A from alpha (and log B from beta); without it the
  // valley a - alpha * log N = const makes L-BFGS crawl.
  const logParams = Float64Array.from(runs, (r) => Math.log(r.params));
  const logTokens = Float64Array.from(runs, (r) => Math.log(r.tokens));
  const centreN = logParams.reduce((s, v) => s + v, 0) / runs.length;
  const centreD = logTokens.reduce((s, v) => s + v, 0) / runs.length;
  const objective = new SupervisedObjective(
    form,
    {
      logParams: logParams.map((v) => v - centreN),
      logTokens: logTokens.map((v) => v - centreD),
      logLoss: Float64Array.from(runs, (r) => Math.log(r.loss)),
    },
    delta,
  );

  const bounds = options.bounds ?? {};
  const [eLo, eHi] = boundPair('options.bounds.E', bounds.E, [1e-3, 20], true);
  const alphaBounds = boundPair('options.bounds.alpha', bounds.alpha, [0, 5]);
  const betaBounds = boundPair('options.bounds.beta', bounds.beta, [0, 5]);
  const gammaBounds = boundPair('options.bounds.gamma', bounds.gamma, [0.05, 5], true);
  const coordinates: CoordinateSpec[] = [
    {
      name: 'aCentred',
      lawName: 'A',
      kind: 'log-coefficient',
      dependsOn: ['alpha'],
      lower: -CENTRED_LOG_BOUND,
      upper: CENTRED_LOG_BOUND,
      toLawUnits: (v, t) => Math.exp(v + t[3]! * centreN),
    },
    {
      name: 'bCentred',
      lawName: 'B',
      kind: 'log-coefficient',
      dependsOn: ['beta'],
      lower: -CENTRED_LOG_BOUND,
      upper: CENTRED_LOG_BOUND,
      toLawUnits: (v, t) => Math.exp(v + t[4]! * centreD),
    },
    { name: 'logE', lawName: 'E', kind: 'log-floor', lower: Math.log(eLo), upper: Math.log(eHi), toLawUnits: Math.exp },
    { name: 'alpha', lawName: 'alpha', kind: 'exponent', lower: alphaBounds[0], upper: alphaBounds[1], toLawUnits: (v) => v },
    { name: 'beta', lawName: 'beta', kind: 'exponent', lower: betaBounds[0], upper: betaBounds[1], toLawUnits: (v) => v },
  ];
  if (form === 'busbridge') {
    coordinates.push({
      name: 'gamma',
      lawName: 'gamma',
      kind: 'exponent',
      lower: gammaBounds[0],
      upper: gammaBounds[1],
      toLawUnits: (v) => v,
    });
  }

  const toLaw = (theta: Float64Array): SupervisedLaw => ({
    E: Math.exp(theta[2]!),
    A: Math.exp(theta[0]! + theta[3]! * centreN),
    B: Math.exp(theta[1]! + theta[4]! * centreD),
    alpha: theta[3]!,
    beta: theta[4]!,
    gamma: form === 'chinchilla' ? 1 : theta[5]!,
  });

  const spec: ModelSpec<SupervisedLaw> = {
    coordinates,
    objective,
    gridAxes: form === 'chinchilla' ? CHINCHILLA_GRID : BUSBRIDGE_SUPERVISED_GRID,
    gridToOptimizer: (starts) => {
      for (let k = 0; k < starts.length; k += dimension) {
        starts[k] = starts[k]! - starts[k + 3]! * centreN;
        starts[k + 1] = starts[k + 1]! - starts[k + 4]! * centreD;
      }
    },
    toLaw,
    huberDelta: delta,
    designDiagnostics: designDiagnostics(runs, dimension),
  };
  const result = fitModel(spec, options);
  const residuals = runs.map((run, i) => {
    const logResidual = result.logResiduals[i]!;
    return {
      row: run.row ?? i + 1,
      params: run.params,
      tokens: run.tokens,
      loss: run.loss,
      predicted: run.loss * Math.exp(logResidual),
      logResidual,
    };
  });
  const { theta: _theta, logResiduals: _logResiduals, ...base } = result;
  const extrapolation = extrapolate(result.law, result.bootstrap?.samples, runs, base.bootstrap?.level ?? 0.95, base.diagnostics);
  const trustworthy = base.diagnostics.every((d) => d.severity !== 'warning');
  return { kind: 'supervised', form, ...base, trustworthy, residuals, extrapolation };
}

const WIDE_EXTRAPOLATION = 0.1;

function extrapolate(
  law: SupervisedLaw,
  samples: SupervisedLaw[] | undefined,
  runs: readonly SupervisedRun[],
  level: number,
  diagnostics: FitDiagnostic[],
): SupervisedFit['extrapolation'] {
  if (!samples || samples.length < 2) return null;
  const params = 10 * Math.max(...runs.map((r) => r.params));
  const tokens = 10 * Math.max(...runs.map((r) => r.tokens));
  const predict = (l: SupervisedLaw) => l.E + Math.pow(l.A / Math.pow(params, l.alpha) + l.B / Math.pow(tokens, l.beta), l.gamma);
  const interval = percentileInterval(samples.map(predict), level);
  const loss = predict(law);
  const width = (interval.upper - interval.lower) / loss;
  if (width > WIDE_EXTRAPOLATION) {
    diagnostics.push({
      severity: 'warning',
      code: 'wide-prediction-interval',
      message: `At 10x your largest model and token count the predicted loss ${loss.toFixed(3)} has a ${Math.round(100 * level)} % interval [${interval.lower.toFixed(3)}, ${interval.upper.toFixed(3)}] (${(100 * width).toFixed(0)} % wide): these runs do not support extrapolating that far.`,
    });
  }
  return { params, tokens, loss, lower: interval.lower, upper: interval.upper };
}
