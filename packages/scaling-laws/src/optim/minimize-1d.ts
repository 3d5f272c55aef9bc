export interface Minimum1d {
  x: number;
  f: number;
}

export interface Minimize1dOptions {
  /** Points of the initial scan; the scan is what finds the right basin when f is not unimodal. */
  gridPoints?: number;
  /** Absolute tolerance on x for the golden-section refinement. */
  tolerance?: number;
}

const INVERSE_GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * Minimises f on [lo, hi]: a uniform scan picks the best bracket, golden-section search refines it.
 * f may return Infinity (or NaN) for infeasible points; they are never chosen while a finite one exists.
 * Returns f = Infinity when every scanned point is infeasible.
 */
export function minimize1d(f: (x: number) => number, lo: number, hi: number, options: Minimize1dOptions = {}): Minimum1d {
  const gridPoints = Math.max(3, options.gridPoints ?? 48);
  const tolerance = options.tolerance ?? 1e-9 * Math.max(1, Math.abs(lo), Math.abs(hi));
  if (hi <= lo) {
    const value = f(lo);
    return { x: lo, f: Number.isNaN(value) ? Infinity : value };
  }
  const step = (hi - lo) / (gridPoints - 1);
  let bestIndex = -1;
  let bestValue = Infinity;
  for (let i = 0; i < gridPoints; i++) {
    const value = f(lo + i * step);
    if (value < bestValue) {
      bestValue = value;
      bestIndex = i;
    }
  }
  if (bestIndex < 0) return { x: lo, f: Infinity };
  let a = lo + Math.max(0, bestIndex - 1) * step;
  let b = lo + Math.min(gridPoints - 1, bestIndex + 1) * step;
  let bestX = lo + bestIndex * step;
  let c = b - INVERSE_GOLDEN * (b - a);
  let d = a + INVERSE_GOLDEN * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tolerance) {
    // NaN/Infinity compare as "worse" so the bracket shrinks away from infeasible points.
    if (fc < fd || Number.isNaN(fd)) {
      b = d;
      d = c;
      fd = fc;
      c = b - INVERSE_GOLDEN * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + INVERSE_GOLDEN * (b - a);
      fd = f(d);
    }
    if (fc < bestValue) {
      bestValue = fc;
      bestX = c;
    }
    if (fd < bestValue) {
      bestValue = fd;
      bestX = d;
    }
  }
  return { x: bestX, f: bestValue };
}

/** Finds x in [lo, hi] with f(x) = 0 by bisection; f(lo) and f(hi) must have opposite signs. */
export function bisectRoot(f: (x: number) => number, lo: number, hi: number, tolerance = 1e-10, maxIterations = 200): number {
  let fLo = f(lo);
  for (let i = 0; i < maxIterations && hi - lo > tolerance; i++) {
    const mid = 0.5 * (lo + hi);
    const fMid = f(mid);
    if (fMid === 0) return mid;
    if (Math.sign(fMid) === Math.sign(fLo)) {
      lo = mid;
      fLo = fMid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}
