/** f(x), writing the gradient into `gradient`. Must not keep references to either array. */
export type ObjectiveWithGradient = (x: Float64Array, gradient: Float64Array) => number;

export type StopReason = 'gradient' | 'function' | 'max-iterations' | 'line-search' | 'non-finite';

export interface BoundedMinimizeOptions {
  /** Iteration cap (one iteration = one accepted step). */
  maxIterations?: number;
  /** Stop when the largest component of the projected gradient falls below this. */
  gradientTolerance?: number;
  /** Stop when one step lowers f by less than this times max(|f|, 1). */
  functionTolerance?: number;
  /** Backtracking steps before the line search gives up. */
  maxLineSearchSteps?: number;
}

export interface BoundedMinimizeResult {
  f: number;
  iterations: number;
  evaluations: number;
  reason: StopReason;
  /** Whether the stop is a convergence (gradient or function test), not a cap or a failure. */
  converged: boolean;
}

const ARMIJO = 1e-4;

/**
 * Bounded limited-memory BFGS: a projected quasi-Newton method in the spirit of L-BFGS-B.
 * Each iteration fixes the variables that sit on a bound with the gradient pushing outward,
 * takes the two-loop L-BFGS direction in the remaining free subspace, and backtracks along the
 * projected path x(t) = clamp(x + t d) until the Armijo condition holds.
 *
 * All work arrays are allocated once per instance, so one instance can run thousands of starts
 * (the multistart grids) without touching the garbage collector.
 */
export class BoundedLbfgs {
  readonly dimension: number;
  readonly memory: number;
  private readonly sHistory: Float64Array;
  private readonly yHistory: Float64Array;
  private readonly rho: Float64Array;
  private readonly alphaScratch: Float64Array;
  private readonly gradient: Float64Array;
  private readonly trialGradient: Float64Array;
  private readonly trialX: Float64Array;
  private readonly direction: Float64Array;
  private readonly free: Uint8Array;

  constructor(dimension: number, memory = 10) {
    this.dimension = dimension;
    this.memory = memory;
    this.sHistory = new Float64Array(memory * dimension);
    this.yHistory = new Float64Array(memory * dimension);
    this.rho = new Float64Array(memory);
    this.alphaScratch = new Float64Array(memory);
    this.gradient = new Float64Array(dimension);
    this.trialGradient = new Float64Array(dimension);
    this.trialX = new Float64Array(dimension);
    this.direction = new Float64Array(dimension);
    this.free = new Uint8Array(dimension);
  }

  /** Minimises `fn` within [lower, upper] starting from `x`, which is overwritten with the solution. */
  minimize(
    fn: ObjectiveWithGradient,
    x: Float64Array,
    lower: Float64Array,
    upper: Float64Array,
    options: BoundedMinimizeOptions = {},
  ): BoundedMinimizeResult {
    const n = this.dimension;
    const m = this.memory;
    const maxIterations = options.maxIterations ?? 500;
    const gradientTolerance = options.gradientTolerance ?? 1e-8;
    const functionTolerance = options.functionTolerance ?? 1e-12;
    const maxLineSearchSteps = options.maxLineSearchSteps ?? 30;
    const { sHistory, yHistory, rho, alphaScratch, direction, free } = this;
    let g = this.gradient;
    let gTrial = this.trialGradient;
    let xCurrent = x;
    let xTrial = this.trialX;

    for (let i = 0; i < n; i++) xCurrent[i] = Math.min(upper[i]!, Math.max(lower[i]!, xCurrent[i]!));
    let f = fn(xCurrent, g);
    let evaluations = 1;
    let stored = 0;
    let newest = -1;
    let iterations = 0;
    let reason: StopReason = 'max-iterations';

    if (!Number.isFinite(f)) {
      return { f: Infinity, iterations: 0, evaluations, reason: 'non-finite', converged: false };
    }

    while (iterations < maxIterations) {
      // Projected gradient: how far a unit steepest-descent step could move each variable.
      let projected = 0;
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        const room = gi > 0 ? Math.min(gi, xCurrent[i]! - lower[i]!) : Math.max(gi, xCurrent[i]! - upper[i]!);
        const size = Math.abs(room);
        if (size > projected) projected = size;
        free[i] = (xCurrent[i]! <= lower[i]! && gi > 0) || (xCurrent[i]! >= upper[i]! && gi < 0) ? 0 : 1;
      }
      if (projected <= gradientTolerance) {
        reason = 'gradient';
        break;
      }

      // Two-loop recursion on the free subspace.
      for (let i = 0; i < n; i++) direction[i] = free[i] ? g[i]! : 0;
      for (let k = 0; k < stored; k++) {
        const slot = (newest - k + m) % m;
        const offset = slot * n;
        let dot = 0;
        for (let i = 0; i < n; i++) dot += sHistory[offset + i]! * direction[i]!;
        const a = rho[slot]! * dot;
        alphaScratch[slot] = a;
        for (let i = 0; i < n; i++) direction[i] = direction[i]! - a * yHistory[offset + i]!;
      }
      if (stored > 0) {
        const offset = newest * n;
        let sy = 0;
        let yy = 0;
        for (let i = 0; i < n; i++) {
          sy += sHistory[offset + i]! * yHistory[offset + i]!;
          yy += yHistory[offset + i]! * yHistory[offset + i]!;
        }
        const scale = sy / yy;
        for (let i = 0; i < n; i++) direction[i] = direction[i]! * scale;
      }
      for (let k = stored - 1; k >= 0; k--) {
        const slot = (newest - k + m) % m;
        const offset = slot * n;
        let dot = 0;
        for (let i = 0; i < n; i++) dot += yHistory[offset + i]! * direction[i]!;
        const b = alphaScratch[slot]! - rho[slot]! * dot;
        for (let i = 0; i < n; i++) direction[i] = direction[i]! + b * sHistory[offset + i]!;
      }
      let slope = 0;
      let largest = 0;
      for (let i = 0; i < n; i++) {
        const di = free[i] ? -direction[i]! : 0;
        direction[i] = di;
        slope += di * g[i]!;
        if (Math.abs(di) > largest) largest = Math.abs(di);
      }
      if (!(slope < 0) || !Number.isFinite(slope)) {
        // The curvature pairs point uphill in this subspace: forget them and take steepest descent.
        stored = 0;
        largest = 0;
        for (let i = 0; i < n; i++) {
          const di = free[i] ? -g[i]! : 0;
          direction[i] = di;
          if (Math.abs(di) > largest) largest = Math.abs(di);
        }
      }

      // Without curvature information the step length is unknown: cap the first move at one unit.
      let step = stored === 0 ? Math.min(1, 1 / largest) : 1;
      let accepted = false;
      let fTrial = Infinity;
      for (let attempt = 0; attempt < maxLineSearchSteps; attempt++) {
        for (let i = 0; i < n; i++) {
          const xi = xCurrent[i]! + step * direction[i]!;
          xTrial[i] = xi < lower[i]! ? lower[i]! : xi > upper[i]! ? upper[i]! : xi;
        }
        fTrial = fn(xTrial, gTrial);
        evaluations++;
        let decrease = 0;
        for (let i = 0; i < n; i++) decrease += g[i]! * (xTrial[i]! - xCurrent[i]!);
        if (Number.isFinite(fTrial) && fTrial <= f + ARMIJO * decrease) {
          accepted = true;
          break;
        }
        // Quadratic interpolation of the step, kept within [0.1, 0.5] of the previous one.
        let next = 0.5 * step;
        if (Number.isFinite(fTrial) && decrease < 0) {
          const curvature = fTrial - f - decrease;
          if (curvature > 0) next = Math.min(0.5 * step, Math.max(0.1 * step, (-decrease * step) / (2 * curvature)));
        }
        step = next;
      }
      if (!accepted) {
        if (stored > 0) {
          stored = 0;
          continue;
        }
        reason = 'line-search';
        break;
      }

      iterations++;
      // Store the curvature pair only when it keeps the inverse Hessian positive definite.
      let sy = 0;
      let yy = 0;
      for (let i = 0; i < n; i++) {
        const si = xTrial[i]! - xCurrent[i]!;
        const yi = gTrial[i]! - g[i]!;
        sy += si * yi;
        yy += yi * yi;
      }
      if (sy > 1e-10 * yy && yy > 0) {
        const slot = (newest + 1) % m;
        const offset = slot * n;
        for (let i = 0; i < n; i++) {
          sHistory[offset + i] = xTrial[i]! - xCurrent[i]!;
          yHistory[offset + i] = gTrial[i]! - g[i]!;
        }
        rho[slot] = 1 / sy;
        newest = slot;
        if (stored < m) stored++;
      }

      const previous = f;
      f = fTrial;
      const swapX = xCurrent;
      xCurrent = xTrial;
      xTrial = swapX;
      const swapG = g;
      g = gTrial;
      gTrial = swapG;
      if (previous - f <= functionTolerance * Math.max(Math.abs(previous), Math.abs(f), 1)) {
        reason = 'function';
        break;
      }
    }

    if (xCurrent !== x) x.set(xCurrent);
    return { f, iterations, evaluations, reason, converged: reason === 'gradient' || reason === 'function' };
  }
}
