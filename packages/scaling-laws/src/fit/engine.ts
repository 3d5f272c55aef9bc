import { BoundedLbfgs } from '../optim/lbfgsb.js';
import { SeededRandom } from '../random.js';
import { cartesianGrid, latinHypercube, type GridAxes } from './grids.js';
import { huberScale } from './huber.js';
import { linearizedStandardErrors } from './identifiability.js';
import { nearBestSpread, polishFromStarts, runMultistart, SEARCH_TOLERANCES, type MultistartOutcome } from './multistart.js';
import type { FitObjective } from './objective.js';
import { percentileInterval } from './quantile.js';
import type { BootstrapSummary, CommonFitOptions, ConvergenceReport, FitDiagnostic, FitResultBase, ParameterEstimate } from './types.js';

/**
 * How a coordinate behaves, which decides what counts as "flat" or "wide" for it:
 * log-coefficient (log A, log B, log c1: only the order of magnitude matters),
 * log-floor (log E: the irreducible loss, where a few percent matter), and
 * exponent/shape (alpha, beta, gamma, c0, f1, d1: absolute values matter).
 */
export type CoordinateKind = 'log-coefficient' | 'log-floor' | 'exponent' | 'shape';

export interface CoordinateSpec {
  /** Optimiser coordinate name (what `bounds` and grids refer to). */
  name: string;
  /** The law parameter it determines. */
  lawName: string;
  kind: CoordinateKind;
  lower: number;
  upper: number;
  /**
   * Other law parameters this one's value depends on: A in law units is exp(aCentred + alpha * mean log N),
   * so it is only determined when alpha is too.
   */
  dependsOn?: string[];
  /** Converts an optimiser value to the law's units; `theta` gives access to the other coordinates. */
  toLawUnits(value: number, theta: Float64Array): number;
}

export interface ModelSpec<Law> {
  coordinates: readonly CoordinateSpec[];
  objective: FitObjective;
  /** The full grid, in grid coordinates. */
  gridAxes: GridAxes;
  /** Maps flattened grid-coordinate starts to optimiser coordinates, in place. */
  gridToOptimizer(starts: Float64Array): void;
  toLaw(theta: Float64Array): Law;
  huberDelta: number;
  /** Warnings about the runs themselves (too few distinct sizes...). */
  designDiagnostics: FitDiagnostic[];
}

export interface EngineOutput<Law> extends FitResultBase<Law> {
  theta: Float64Array;
  logResiduals: Float64Array;
}

const LOG_COEFFICIENT_WIDE = Math.log(100);
const LOG_FLOOR_WIDE = Math.log(1.5);
const PREDICTION_WIDE = 0.05;
const POOR_FIT_RMS = 0.05;

function flatTolerance(kind: CoordinateKind, value: number): number {
  return kind === 'log-coefficient' || kind === 'log-floor' ? 0.05 : 0.01 + 0.02 * Math.abs(value);
}

/**
 * Interval width beyond which a coordinate counts as not determined: a factor of 100 for log
 * coefficients, 1.5 for the loss floor E, and for exponents and shapes the value itself, between
 * 0.5 and 1 (a fixed floor so near-zero estimates are not judged on a tiny scale, a fixed ceiling so
 * an absurd estimate cannot excuse an absurd interval).
 */
function wideTolerance(kind: CoordinateKind, value: number): number {
  if (kind === 'log-coefficient') return LOG_COEFFICIENT_WIDE;
  if (kind === 'log-floor') return LOG_FLOOR_WIDE;
  return Math.min(1, Math.max(Math.abs(value), 0.5));
}

function searchStarts<Law>(
  spec: ModelSpec<Law>,
  options: CommonFitOptions,
): { starts: Float64Array; strategy: ConvergenceReport['strategy'] } {
  const dimension = spec.coordinates.length;
  const grid = options.grid ?? 'fast';
  let starts: Float64Array;
  let strategy: ConvergenceReport['strategy'];
  if (grid === 'full') {
    starts = cartesianGrid(spec.gridAxes);
    strategy = 'full';
  } else if (grid === 'fast') {
    starts = latinHypercube(spec.gridAxes, options.fastStarts ?? 64, new SeededRandom(options.seed ?? 0));
    strategy = 'fast';
  } else {
    starts = new Float64Array(grid.length * dimension);
    grid.forEach((start, k) => {
      if (start.length !== dimension) throw new Error(`grid start ${k} has ${start.length} values, expected ${dimension}`);
      starts.set(start, k * dimension);
    });
    strategy = 'custom';
  }
  spec.gridToOptimizer(starts);
  return { starts, strategy };
}

function convergenceReport<Law>(
  spec: ModelSpec<Law>,
  outcome: MultistartOutcome,
  strategy: ConvergenceReport['strategy'],
  lower: Float64Array,
  upper: Float64Array,
): ConvergenceReport {
  const { count, spread } = nearBestSpread(outcome, spec.coordinates.length);
  const nearBest: Record<string, number> = {};
  spec.coordinates.forEach((c, j) => (nearBest[c.name] = spread[j]!));
  const errors = linearizedStandardErrors(spec.objective, outcome.best, lower, upper);
  const standardErrors: Record<string, number> = {};
  spec.coordinates.forEach((c, j) => (standardErrors[c.name] = errors[j]!));
  return {
    strategy,
    starts: outcome.starts,
    convergedStarts: outcome.convergedStarts,
    evaluations: outcome.evaluations,
    bestReason: outcome.bestReason,
    bestConverged: outcome.bestConverged,
    nearBestRuns: count,
    nearBestSpread: nearBest,
    linearizedStandardErrors: standardErrors,
  };
}

interface BootstrapRun<Law> {
  summary: BootstrapSummary<Law>;
  thetas: Float64Array[];
}

function runBootstrap<Law>(
  spec: ModelSpec<Law>,
  outcome: MultistartOutcome,
  lower: Float64Array,
  upper: Float64Array,
  options: CommonFitOptions,
): BootstrapRun<Law> | null {
  const freshPerResample = options.bootstrapFreshStarts ?? 2;
  const resamples = options.bootstrap ?? 100;
  if (resamples <= 0) return null;
  const dimension = spec.coordinates.length;
  const { objective } = spec;
  const runs = objective.weights.length;
  // Refits start from the full-data optimum and from the other distinct polished ends: a resample
  // moves the optimum a little, it does not call for a new global search.
  const warmStarts: Float64Array[] = [outcome.best];
  for (let k = 1; k < outcome.finalObjectives.length && warmStarts.length < 4; k++) {
    const candidate = outcome.finals.subarray(k * dimension, (k + 1) * dimension);
    const distinct = warmStarts.every((start) => start.some((value, j) => Math.abs(value - candidate[j]!) > 1e-3));
    if (distinct && Number.isFinite(outcome.finalObjectives[k]!)) warmStarts.push(candidate.slice());
  }
  const random = new SeededRandom(((options.seed ?? 0) ^ 0x5bd1e995) >>> 0);
  const freshRandom = new SeededRandom(((options.seed ?? 0) ^ 0x27d4eb2f) >>> 0);
  const optimizer = new BoundedLbfgs(dimension);
  const evaluate = (x: Float64Array, g: Float64Array): number => objective.evaluate(x, g);
  const gradientScratch = new Float64Array(dimension);
  const samples: Law[] = [];
  const thetas: Float64Array[] = [];
  let failed = 0;
  try {
    for (let r = 0; r < resamples; r++) {
      objective.weights.fill(0);
      for (let i = 0; i < runs; i++) {
        const pick = random.int(runs);
        objective.weights[pick] = objective.weights[pick]! + 1;
      }
      const starts = warmStarts.slice();
      if (freshPerResample > 0) {
        const fresh = latinHypercube(spec.gridAxes, freshPerResample, freshRandom);
        spec.gridToOptimizer(fresh);
        // Fresh starts take a short screening run and are polished only if they got competitive
        // with the warm start on this resample; most land far away and cost 60 iterations.
        const warmObjective = objective.evaluate(outcome.best, gradientScratch);
        for (let k = 0; k < freshPerResample; k++) {
          const point = fresh.slice(k * dimension, (k + 1) * dimension);
          const screened = optimizer.minimize(evaluate, point, lower, upper, { ...SEARCH_TOLERANCES, maxIterations: 60 });
          if (screened.f <= warmObjective * 1.1) starts.push(point);
        }
      }
      const refit = polishFromStarts(objective, optimizer, starts, lower, upper, 2000);
      if (!Number.isFinite(refit.f)) {
        failed++;
        continue;
      }
      thetas.push(refit.point);
      samples.push(spec.toLaw(refit.point));
    }
  } finally {
    objective.weights.fill(1);
  }
  return { summary: { resamples, level: options.confidenceLevel ?? 0.95, seed: options.seed ?? 0, failed, samples }, thetas };
}

function rms(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v * v;
  return Math.sqrt(sum / Math.max(1, values.length));
}

/**
 * The fitting protocol shared by the supervised and distillation laws: multistart bounded L-BFGS on
 * the Huber objective, polish, bootstrap, and the diagnostics that decide whether the numbers can be
 * trusted. The law-specific parts (objective, coordinates, grid) come in through `spec`.
 */
export function fitModel<Law>(spec: ModelSpec<Law>, options: CommonFitOptions): EngineOutput<Law> {
  const dimension = spec.coordinates.length;
  const lower = Float64Array.from(spec.coordinates, (c) => c.lower);
  const upper = Float64Array.from(spec.coordinates, (c) => c.upper);
  const { starts, strategy } = searchStarts(spec, options);
  const outcome = runMultistart(spec.objective, {
    starts,
    lower,
    upper,
    searchIterations: options.searchIterations ?? (strategy === 'fast' ? 40 : 100),
    polishCount: options.polishCount ?? 8,
    polishIterations: 5000,
  });
  const theta = outcome.best;
  const law = spec.toLaw(theta);
  const convergence = convergenceReport(spec, outcome, strategy, lower, upper);
  const bootstrap = runBootstrap(spec, outcome, lower, upper, options);
  const level = options.confidenceLevel ?? 0.95;
  const logResiduals = spec.objective.logResiduals(theta);
  const diagnostics: FitDiagnostic[] = [...spec.designDiagnostics];

  const parameters: ParameterEstimate[] = spec.coordinates.map((c, j) => {
    const value = theta[j]!;
    const span = c.upper - c.lower;
    const onBound = value <= c.lower + 1e-6 * span ? 'lower' : value >= c.upper - 1e-6 * span ? 'upper' : null;
    const lawValues = bootstrap?.summary.samples.map((s) => (s as Record<string, number>)[c.lawName]!) ?? [];
    const boundsA = c.toLawUnits(c.lower, theta);
    const boundsB = c.toLawUnits(c.upper, theta);
    return {
      name: c.lawName,
      value: (law as Record<string, number>)[c.lawName]!,
      interval: lawValues.length > 1 ? percentileInterval(lawValues, level) : null,
      bounds: [Math.min(boundsA, boundsB), Math.max(boundsA, boundsB)],
      onBound,
      determined: true,
    };
  });
  const undetermined = new Set<string>();
  const flag = (names: string[]) => names.forEach((n) => undetermined.add(n));

  const boundHits = parameters.filter((p) => p.onBound);
  if (boundHits.length > 0) {
    const names = boundHits.map((p) => p.name);
    flag(names);
    diagnostics.push({
      severity: 'warning',
      code: 'on-bound',
      parameters: names,
      message: `${boundHits.map((p) => `${p.name} sits on its ${p.onBound} bound (${Number((p.onBound === 'lower' ? p.bounds[0] : p.bounds[1]).toPrecision(6))})`).join('; ')}: the data push it outside the search box, so the fitted value is the box, not the data.`,
    });
  }

  // Flat directions: polished runs that tie on the objective with different values, or a linearised
  // 95 % interval wider than what counts as "determined" for that kind of coordinate.
  const flatReasons: string[] = [];
  const flatNames: string[] = [];
  spec.coordinates.forEach((c, j) => {
    const tolerance = wideTolerance(c.kind, theta[j]!);
    const spread = convergence.nearBestSpread[c.name]!;
    const standardError = convergence.linearizedStandardErrors[c.name]!;
    if (spread > flatTolerance(c.kind, theta[j]!)) {
      flatReasons.push(`${c.name} differs by ${spread.toPrecision(2)} between equally good runs`);
    } else if (2 * 1.96 * standardError > tolerance) {
      flatReasons.push(
        `${c.name} has a linearised 95 % interval of ${Number.isFinite(standardError) ? `±${(1.96 * standardError).toPrecision(2)}` : 'unbounded width'}`,
      );
    } else {
      return;
    }
    flatNames.push(c.lawName);
  });
  if (flatNames.length > 0) {
    flag(flatNames);
    diagnostics.push({
      severity: 'warning',
      code: 'flat-objective',
      parameters: flatNames,
      message: `The objective is flat along ${flatNames.join(', ')} (${flatReasons.join('; ')}): the runs do not pin these coefficients down, and other values fit equally well.`,
    });
  }

  if (!outcome.bestConverged) {
    diagnostics.push({
      severity: 'warning',
      code: 'not-converged',
      message: `The best run stopped on '${outcome.bestReason}' instead of a convergence test; the optimum may not be reached.`,
    });
  }

  const rmsLogResidual = rms(logResiduals);
  const maxAbsLogResidual = logResiduals.reduce((m, r) => Math.max(m, Math.abs(r)), 0);
  if (rmsLogResidual > POOR_FIT_RMS) {
    diagnostics.push({
      severity: 'warning',
      code: 'poor-fit',
      message: `RMS log residual is ${(100 * rmsLogResidual).toFixed(1)} %: the law does not describe these runs well.`,
    });
  }

  if (bootstrap) {
    const wide: string[] = [];
    spec.coordinates.forEach((c, j) => {
      const values = bootstrap.thetas.map((t) => t[j]!);
      if (values.length < 2) return;
      const interval = percentileInterval(values, level);
      if (interval.upper - interval.lower > wideTolerance(c.kind, theta[j]!)) wide.push(c.lawName);
    });
    if (wide.length > 0) {
      flag(wide);
      diagnostics.push({
        severity: 'warning',
        code: 'wide-interval',
        parameters: wide,
        message: `Bootstrap intervals are very wide for ${wide.join(', ')}: resampling the runs moves these coefficients a lot, so their values are not determined by the data.`,
      });
    }
    const width = predictionWidth(spec, bootstrap.thetas, level);
    if (width > PREDICTION_WIDE) {
      diagnostics.push({
        severity: 'warning',
        code: 'wide-prediction-interval',
        message: `Bootstrap ${Math.round(100 * level)} % intervals of the predicted loss reach ${(100 * width).toFixed(1)} % of the loss at some observed runs: even interpolated predictions are uncertain.`,
      });
    }
    if (bootstrap.summary.failed > 0) {
      diagnostics.push({
        severity: 'info',
        code: 'bootstrap-failures',
        message: `${bootstrap.summary.failed} of ${bootstrap.summary.resamples} bootstrap refits failed and were left out.`,
      });
    }
  } else {
    diagnostics.push({
      severity: 'info',
      code: 'bootstrap-off',
      message: 'No bootstrap ran, so there are no intervals and no spread checks.',
    });
  }

  for (const c of spec.coordinates) {
    if ((c.dependsOn ?? []).some((name) => undetermined.has(name))) undetermined.add(c.lawName);
  }
  for (const p of parameters) p.determined = !undetermined.has(p.name);
  return {
    law,
    theta,
    parameters,
    objective: spec.objective.evaluate(theta, new Float64Array(dimension)) * huberScale(spec.huberDelta),
    huberDelta: spec.huberDelta,
    runs: spec.objective.weights.length,
    rmsLogResidual,
    maxAbsLogResidual,
    logResiduals,
    bootstrap: bootstrap?.summary ?? null,
    convergence,
    diagnostics,
    trustworthy: diagnostics.every((d) => d.severity !== 'warning'),
  };
}

/** Largest bootstrap interval width (in log loss, i.e. relative) of the prediction over the observed runs. */
function predictionWidth<Law>(spec: ModelSpec<Law>, thetas: Float64Array[], level: number): number {
  if (thetas.length < 2) return 0;
  const perSample = thetas.map((t) => spec.objective.logResiduals(t));
  const runs = perSample[0]!.length;
  let widest = 0;
  for (let i = 0; i < runs; i++) {
    const interval = percentileInterval(
      perSample.map((r) => r[i]!),
      level,
    );
    widest = Math.max(widest, interval.upper - interval.lower);
  }
  return widest;
}
