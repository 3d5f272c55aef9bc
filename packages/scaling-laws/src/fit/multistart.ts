import { BoundedLbfgs, type BoundedMinimizeOptions, type StopReason } from '../optim/lbfgsb.js';
import type { FitObjective } from './objective.js';

/** Stopping tests of the first pass: scipy's L-BFGS-B defaults (factr 1e7, pgtol 1e-5), as the papers used. */
export const SEARCH_TOLERANCES = { functionTolerance: 2.2e-9, gradientTolerance: 1e-5 } as const;
/** Stopping tests of the polish, tight enough that the reported optimum does not depend on the start. */
export const POLISH_TOLERANCES = { functionTolerance: 1e-13, gradientTolerance: 1e-9 } as const;

export interface MultistartSettings {
  /** Flattened starts (count x dimension), in optimiser coordinates. */
  starts: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  /** Iteration cap of the first pass (every start). */
  searchIterations: number;
  /** How many of the best first-pass ends are polished. */
  polishCount: number;
  /** Iteration cap of the polish. */
  polishIterations: number;
}

export interface MultistartOutcome {
  best: Float64Array;
  /** Scaled objective at `best`. */
  bestObjective: number;
  bestReason: StopReason;
  bestConverged: boolean;
  bestIterations: number;
  starts: number;
  /** First-pass runs that stopped on a convergence test (not on the iteration cap). */
  convergedStarts: number;
  evaluations: number;
  /** Polished points (polishCount x dimension) and their objectives, best first. */
  finals: Float64Array;
  finalObjectives: Float64Array;
}

/**
 * Bounded L-BFGS from every start, keeping the lowest objective, as both papers do; then the best
 * few ends are polished with tight tolerances. Starts may lie on or outside the bounds: they are
 * clamped. One optimiser instance (and its buffers) serves every start.
 */
export function runMultistart(objective: FitObjective, settings: MultistartSettings): MultistartOutcome {
  const n = objective.dimension;
  const count = settings.starts.length / n;
  const optimizer = new BoundedLbfgs(n);
  const evaluate = (x: Float64Array, g: Float64Array): number => objective.evaluate(x, g);
  const x = new Float64Array(n);
  const ends = new Float64Array(count * n);
  const endObjectives = new Float64Array(count);
  const search: BoundedMinimizeOptions = { ...SEARCH_TOLERANCES, maxIterations: settings.searchIterations };
  let evaluations = 0;
  let convergedStarts = 0;
  for (let s = 0; s < count; s++) {
    x.set(settings.starts.subarray(s * n, (s + 1) * n));
    const result = optimizer.minimize(evaluate, x, settings.lower, settings.upper, search);
    evaluations += result.evaluations;
    if (result.converged) convergedStarts++;
    ends.set(x, s * n);
    endObjectives[s] = Number.isFinite(result.f) ? result.f : Infinity;
  }

  const chosen = Array.from({ length: count }, (_, i) => i)
    .sort((p, q) => endObjectives[p]! - endObjectives[q]!)
    .slice(0, Math.max(1, Math.min(count, settings.polishCount)));
  const polish: BoundedMinimizeOptions = { ...POLISH_TOLERANCES, maxIterations: settings.polishIterations };
  const polished = chosen.map((startIndex) => {
    const point = ends.slice(startIndex * n, (startIndex + 1) * n);
    const result = optimizer.minimize(evaluate, point, settings.lower, settings.upper, polish);
    evaluations += result.evaluations;
    return { point, result, f: Number.isFinite(result.f) ? result.f : Infinity };
  });
  polished.sort((p, q) => p.f - q.f);
  const finals = new Float64Array(polished.length * n);
  const finalObjectives = new Float64Array(polished.length);
  polished.forEach((entry, k) => {
    finals.set(entry.point, k * n);
    finalObjectives[k] = entry.f;
  });
  const best = polished[0]!;
  return {
    best: best.point,
    bestObjective: best.f,
    bestReason: best.result.reason,
    bestConverged: best.result.converged,
    bestIterations: best.result.iterations,
    starts: count,
    convergedStarts,
    evaluations,
    finals,
    finalObjectives,
  };
}

/** Polishes each of `starts` and returns the lowest end; used by bootstrap refits. */
export function polishFromStarts(
  objective: FitObjective,
  optimizer: BoundedLbfgs,
  starts: readonly Float64Array[],
  lower: Float64Array,
  upper: Float64Array,
  maxIterations: number,
): { point: Float64Array; f: number; evaluations: number } {
  const evaluate = (x: Float64Array, g: Float64Array): number => objective.evaluate(x, g);
  let bestPoint: Float64Array | null = null;
  let bestF = Infinity;
  let evaluations = 0;
  for (const start of starts) {
    const point = start.slice();
    const result = optimizer.minimize(evaluate, point, lower, upper, { ...POLISH_TOLERANCES, maxIterations });
    evaluations += result.evaluations;
    if (result.f < bestF || bestPoint === null) {
      bestF = result.f;
      bestPoint = point;
    }
  }
  return { point: bestPoint!, f: bestF, evaluations };
}

/**
 * Spread (max - min) of each parameter over the polished ends within `tolerance` (relative) of the
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
