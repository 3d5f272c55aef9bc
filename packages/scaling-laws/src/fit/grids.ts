import type { SeededRandom } from '../random.js';

/** One axis of values per internal parameter; the grid is their Cartesian product. */
export type GridAxes = readonly (readonly number[])[];

/**
 * Hoffmann et al. 2022, approach 3: a, b in {0, 5, ..., 25}, e in {-1, -0.5, ..., 1},
 * alpha, beta in {0, 0.5, ..., 2}: 6 * 6 * 5 * 5 * 5 = 4,500 starts.
 */
export const CHINCHILLA_GRID: GridAxes = [
  [0, 5, 10, 15, 20, 25],
  [0, 5, 10, 15, 20, 25],
  [-1, -0.5, 0, 0.5, 1],
  [0, 0.5, 1, 1.5, 2],
  [0, 0.5, 1, 1.5, 2],
];

/**
 * Our grid for the gamma-free form (Busbridge et al. do not publish theirs): a, b in {0, 5, ..., 20},
 * e in {-1, -0.5, ..., 1.5}, alpha, beta in {0.5, 1, 1.5, 2}, gamma in {0.25, 0.5, 0.75, 1}:
 * 5 * 5 * 6 * 4 * 4 * 4 = 9,600 starts. alpha = beta = 0 is dropped because with gamma free it
 * makes A and B interchangeable with E; gamma <= 1 covers the published 0.452 and Chinchilla's 1.
 */
export const BUSBRIDGE_SUPERVISED_GRID: GridAxes = [
  [0, 5, 10, 15, 20],
  [0, 5, 10, 15, 20],
  [-1, -0.5, 0, 0.5, 1, 1.5],
  [0.5, 1, 1.5, 2],
  [0.5, 1, 1.5, 2],
  [0.25, 0.5, 0.75, 1],
];

/**
 * Our grid for the distillation law, in internal order (a, b, alpha, beta, gamma, c0, log c1, f1, d1):
 * 4 * 4 * 3 * 3 * 2 * 4 * 2 * 2 * 2 = 9,216 starts. f1 never starts at 0, where 1/f1 is singular.
 */
export const DISTILLATION_GRID: GridAxes = [
  [0, 5, 10, 15],
  [0, 5, 10, 15],
  [0.25, 0.5, 1],
  [0.25, 0.5, 1],
  [0.5, 1],
  [0, 1, 2, 3],
  [Math.log(10), Math.log(1000)],
  [0.05, 0.5],
  [1, 1.5],
];

export function gridSize(axes: GridAxes): number {
  return axes.reduce((count, axis) => count * axis.length, 1);
}

/** Cartesian product, flattened row-major (last axis fastest) into one typed array. */
export function cartesianGrid(axes: GridAxes): Float64Array {
  const dimension = axes.length;
  const count = gridSize(axes);
  const out = new Float64Array(count * dimension);
  const index = new Array<number>(dimension).fill(0);
  for (let start = 0; start < count; start++) {
    for (let j = 0; j < dimension; j++) out[start * dimension + j] = axes[j]![index[j]!]!;
    for (let j = dimension - 1; j >= 0; j--) {
      index[j] = index[j]! + 1;
      if (index[j]! < axes[j]!.length) break;
      index[j] = 0;
    }
  }
  return out;
}

/**
 * Latin-hypercube sample of `count` points in the box spanned by each axis's min and max: every
 * parameter's range is cut into `count` strata and each stratum is used exactly once.
 */
export function latinHypercube(axes: GridAxes, count: number, random: SeededRandom): Float64Array {
  const dimension = axes.length;
  const out = new Float64Array(count * dimension);
  const order = new Array<number>(count);
  for (let j = 0; j < dimension; j++) {
    const axis = axes[j]!;
    const lo = Math.min(...axis);
    const hi = Math.max(...axis);
    for (let i = 0; i < count; i++) order[i] = i;
    for (let i = count - 1; i > 0; i--) {
      const k = random.int(i + 1);
      const swap = order[i]!;
      order[i] = order[k]!;
      order[k] = swap;
    }
    for (let i = 0; i < count; i++) out[i * dimension + j] = lo + ((order[i]! + random.next()) / count) * (hi - lo);
  }
  return out;
}
