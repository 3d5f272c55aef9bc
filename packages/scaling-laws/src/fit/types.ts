import type { StopReason } from '../optim/lbfgsb.js';

/** How the multistart search is seeded. */
export type GridChoice =
  /** The paper's full grid (4,500 starts for Chinchilla's form, 9,600 for gamma free, 9,216 for distillation). */
  | 'full'
  /** Default: a seeded Latin-hypercube sample of the full grid's box, short runs, the best polished. */
  | 'fast'
  /**
   * Your own starts, one array per start, in the fit's grid coordinates (log A, log B, log E, alpha,
   * beta, gamma for the supervised law; log A, log B, alpha, beta, gamma, c0, log c1, f1, d1 for distillation).
   */
  | readonly (readonly number[])[];

export interface CommonFitOptions {
  /** Huber delta on log-loss residuals; Infinity gives least squares. */
  huberDelta?: number;
  grid?: GridChoice;
  /** Number of Latin-hypercube starts for grid 'fast' (default 64). */
  fastStarts?: number;
  /** Iteration cap of every start's first run (default 100; 40 for grid 'fast'). */
  searchIterations?: number;
  /** How many of the best first-run ends are polished to tight tolerances (default 8). */
  polishCount?: number;
  /** Bootstrap resamples (default 100; 0 turns the bootstrap off). */
  bootstrap?: number;
  /**
   * Fresh Latin-hypercube starts added to every bootstrap refit (default 2), besides the warm starts
   * from the full-data optimum. They let resamples wander along flat ridges instead of staying in the
   * full-data basin, which would make the intervals too narrow exactly where they matter.
   */
  bootstrapFreshStarts?: number;
  /** Central coverage of the percentile intervals (default 0.95). */
  confidenceLevel?: number;
  /** Seed for the Latin-hypercube starts and the bootstrap resamples (default 0). */
  seed?: number;
}

/** One fitted coefficient, in the units of the law. */
export interface ParameterEstimate {
  name: string;
  value: number;
  /** Bootstrap percentile interval, when a bootstrap ran. */
  interval: { lower: number; median: number; upper: number } | null;
  /** The box the optimiser searched, in the law's units. */
  bounds: [number, number];
  onBound: 'lower' | 'upper' | null;
  /** False when a diagnostic says the data do not pin this coefficient down. */
  determined: boolean;
}

export type DiagnosticCode =
  | 'on-bound'
  | 'flat-objective'
  | 'wide-interval'
  | 'wide-prediction-interval'
  | 'not-converged'
  | 'few-runs'
  | 'narrow-design'
  | 'poor-fit'
  | 'bootstrap-off'
  | 'bootstrap-failures';

export interface FitDiagnostic {
  /** 'warning' means: do not quote these numbers as if they were reliable. */
  severity: 'warning' | 'info';
  code: DiagnosticCode;
  message: string;
  /** The law's parameter names the diagnostic is about, if any. */
  parameters?: string[];
}

export interface ConvergenceReport {
  strategy: 'full' | 'fast' | 'custom';
  starts: number;
  /** Starts whose first run met the stopping tests within the iteration cap. */
  convergedStarts: number;
  evaluations: number;
  /** How the polished best run stopped. */
  bestReason: StopReason;
  bestConverged: boolean;
  /** Polished ends whose objective is within 1e-6 (relative) of the best. */
  nearBestRuns: number;
  /** Largest difference, per optimiser coordinate, between those near-best ends. */
  nearBestSpread: Record<string, number>;
  /**
   * Linearised (Gauss-Newton) standard error of each optimiser coordinate at the optimum; Infinity
   * (null in JSON) along directions the runs cannot see, NaN (null) for coordinates on a bound.
   */
  linearizedStandardErrors: Record<string, number>;
}

export interface BootstrapSummary<Law> {
  resamples: number;
  level: number;
  seed: number;
  /** Resamples whose refit failed (non-finite objective); they are left out of the intervals. */
  failed: number;
  /** The refitted laws, one per successful resample. */
  samples: Law[];
}

export interface FitResultBase<Law> {
  law: Law;
  parameters: ParameterEstimate[];
  /** Sum of Huber losses of log residuals at the optimum (unscaled, as in the papers). */
  objective: number;
  huberDelta: number;
  runs: number;
  rmsLogResidual: number;
  maxAbsLogResidual: number;
  bootstrap: BootstrapSummary<Law> | null;
  convergence: ConvergenceReport;
  diagnostics: FitDiagnostic[];
  /** True when no diagnostic is a warning. */
  trustworthy: boolean;
}
