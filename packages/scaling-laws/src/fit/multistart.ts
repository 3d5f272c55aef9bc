import { BoundedLbfgs, type BoundedMinimizeResult, type StopReason } from '../optim/lbfgsb.js';
import type { FitObjective } from './objective.js';

export interface MultistartSettings {
  /** Flattened starts (count x dimension). */
  starts: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  /** Iterations for every start, or for the screening pass when `refine` is set. */
  maxIterations: number;
  /**
   * When set, every start first runs `screenIterations` steps; then the `count` best are run to
   * convergence. This is the cheap default search; without it every start runs to convergence.
   */
  refine?: { count: number; screenIterations: number };
}

export interface MultistartOutcome {
  best: Float64Array;
  /** Scaled objective at `best`. */
  bestObjective: number;
  bestReason: StopReason;
  bestConverged: boolean;
  bestIterations: number;
  /** Every start the search ran (screened starts count once). */
  starts: number;
  /** Starts whose last run stopped on a convergence test. */
  convergedStarts: number;
  evaluations: number;
  /** Final points of the fully converged runs (count x dimension) and their objectives. */
  finals: Float64Array;
  finalObjectives: Float64Array;
}

/**
 * Runs bounded L-BFGS from each start and keeps the lowest objective, as both papers do.
 * Starts are clamped into the bounds first (a grid value on or beyond a bound is legal).
 */
export function runMultistart(objective: FitObjective, settings: MultistartSettings): MultistartOutcome {
  const n = objective.dimension;
  const count = settings.starts.length / n;
  const optimizer = new BoundedLbfgs(n);
  const evaluate = (x: Float64Array, g: Float64Array): number => objective.evaluate(x, g);
  const x = new Float64Array(n);
  const ends = new Float64Array(count * n);
  const endObjectives = new Float64Array(count);
  const endResults: BoundedMinimizeResult[] = [];
  let evaluations = 0;
  const firstPassIterations = settings.refine ? settings.refine.screenIterations : settings.maxIterations;
  for (let s = 0; s < count; s++) {
    x.set(settings.starts.subarray(s * n, (s + 1) * n));
    const result = optimizer.minimize(evaluate, x, settings.lower, settings.upper, { maxIterations: firstPassIterations });
    evaluations += result.evaluations;
    ends.set(x, s * n);
    endObjectives[s] = Number.isFinite(result.f) ? result.f : Infinity;
    endResults.push(result);
  }

  let chosen: number[];
  let finals = ends;
  let finalObjectives = endObjectives;
  let finalResults = endResults;
  if (settings.refine) {
    chosen = Array.from({ length: count }, (_, i) => i)
      .sort((p, q) => endObjectives[p]! - endObjectives[q]!)
      .slice(0, Math.min(count, settings.refine.count));
    finals = new Float64Array(chosen.length * n);
    finalObjectives = new Float64Array(chosen.length);
    finalResults = [];
    chosen.forEach((startIndex, k) => {
      x.set(ends.subarray(startIndex * n, (startIndex + 1) * n));
      const result = optimizer.minimize(evaluate, x, settings.lower, settings.upper, { maxIterations: settings.maxIterations });
      evaluations += result.evaluations;
      finals.set(x, k * n);
      finalObjectives[k] = Number.isFinite(result.f) ? result.f : Infinity;
      finalResults.push(result);
    });
  }

  let bestIndex = 0;
  for (let k = 1; k < finalObjectives.length; k++) if (finalObjectives[k]! < finalObjectives[bestIndex]!) bestIndex = k;
  const bestResult = finalResults[bestIndex]!;
  return {
    best: finals.slice(bestIndex * n, (bestIndex + 1) * n),
    bestObjective: finalObjectives[bestIndex]!,
    bestReason: bestResult.reason,
    bestConverged: bestResult.converged,
    bestIterations: bestResult.iterations,
    starts: count,
    convergedStarts: finalResults.filter((r) => r.converged).length,
    evaluations,
    finals,
    finalObjectives,
  };
}

/**
 * Spread (max - min) of each parameter over the runs that ended within `tolerance` (relative) of the
 * best objective. A large spread means the objective is flat along that parameter: different
 * coefficients explain the data equally well.
 */
export function nearBestSpread(outcome: MultistartOutcome, dimension: number, tolerance = 1e-6): { count: number; spread: Float64Array } {
  const threshold = outcome.bestObjective + tolerance * Math.max(1, Math.abs(outcome.bestObjective));
  const lo = new Float64Array(dimension).fill(Infinity);
  const hi = new Float64Array(dimension).fill(-Infinity);
  let count = 0;
  for (let k = 0; k < outcome.finalObjectives.length; k++) {
    if (!(outcome.finalObjectives[k]! <= threshold)) continue;
    count++;
    for (let j = 0; j < dimension; j++) {
      const value = outcome.finals[k * dimension + j]!;
      if (value < lo[j]!) lo[j] = value;
      if (value > hi[j]!) hi[j] = value;
    }
  }
  const spread = new Float64Array(dimension);
  for (let j = 0; j < dimension; j++) spread[j] = count > 0 ? hi[j]! - lo[j]! : 0;
  return { count, spread };
}
