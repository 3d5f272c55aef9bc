import { badValue, DistilleryError } from '@distillery/core';
import type { CommonFitOptions } from './types.js';

/** Validates the options both fitters share; bad values throw E_BAD_VALUE naming the option. */
export function checkCommonOptions(options: CommonFitOptions): void {
  const { huberDelta, bootstrap, confidenceLevel, fastStarts, seed, searchIterations, polishCount, grid } = options;
  if (huberDelta !== undefined && !(huberDelta > 0))
    throw badValue('options.huberDelta', huberDelta, 'a number > 0 (Infinity for least squares)');
  if (bootstrap !== undefined && !(Number.isInteger(bootstrap) && bootstrap >= 0))
    throw badValue('options.bootstrap', bootstrap, 'an integer >= 0');
  if (confidenceLevel !== undefined && !(confidenceLevel > 0 && confidenceLevel < 1))
    throw badValue('options.confidenceLevel', confidenceLevel, 'a number in (0, 1)');
  if (fastStarts !== undefined && !(Number.isInteger(fastStarts) && fastStarts >= 1))
    throw badValue('options.fastStarts', fastStarts, 'an integer >= 1');
  if (seed !== undefined && !Number.isInteger(seed)) throw badValue('options.seed', seed, 'an integer');
  if (searchIterations !== undefined && !(Number.isInteger(searchIterations) && searchIterations >= 1))
    throw badValue('options.searchIterations', searchIterations, 'an integer >= 1');
  if (
    options.bootstrapFreshStarts !== undefined &&
    !(Number.isInteger(options.bootstrapFreshStarts) && options.bootstrapFreshStarts >= 0)
  ) {
    throw badValue('options.bootstrapFreshStarts', options.bootstrapFreshStarts, 'an integer >= 0');
  }
  if (polishCount !== undefined && !(Number.isInteger(polishCount) && polishCount >= 1))
    throw badValue('options.polishCount', polishCount, 'an integer >= 1');
  if (grid !== undefined && grid !== 'full' && grid !== 'fast') {
    if (!Array.isArray(grid) || grid.length === 0) throw badValue('options.grid', grid, "'full', 'fast' or a non-empty array of starts");
    grid.forEach((start, k) => {
      if (!Array.isArray(start) || !start.every((v) => Number.isFinite(v)))
        throw badValue(`options.grid[${k}]`, start, 'an array of finite numbers');
    });
  }
}

/** Reads a [lower, upper] pair from options.bounds, checking it is ordered and finite. */
export function boundPair(
  field: string,
  value: readonly [number, number] | undefined,
  fallback: [number, number],
  positive = false,
): [number, number] {
  if (value === undefined) return fallback;
  const [lo, hi] = value;
  if (!(Array.isArray(value) && value.length === 2 && Number.isFinite(lo) && Number.isFinite(hi) && lo < hi && (!positive || lo > 0))) {
    throw badValue(
      field,
      value,
      positive ? 'a pair [lower, upper] with 0 < lower < upper' : 'a pair [lower, upper] of finite numbers with lower < upper',
    );
  }
  return [lo, hi];
}

/** Refuses fits with fewer runs than free parameters. */
export function requireEnoughRuns(runs: number, parameters: number, what: string): void {
  if (runs < parameters) {
    throw new DistilleryError(
      'E_BAD_INPUT',
      `${runs} ${what} cannot determine ${parameters} parameters: give at least ${parameters} runs (several times more for trustworthy intervals)`,
      {
        field: 'runs',
        value: runs,
        expected: `at least ${parameters} runs`,
      },
    );
  }
}

export function countDistinct(values: readonly number[]): number {
  return new Set(values.map((v) => v.toPrecision(6))).size;
}
