// Laws and their published coefficients.
export type { SupervisedLaw, DistillationLaw, LawPair } from './laws/types.js';
export { BUSBRIDGE_SUPERVISED, BUSBRIDGE_DISTILLATION, CHINCHILLA_APPROACH3 } from './laws/presets.js';
export { predictSupervisedLoss, supervisedReducibleLoss, tokensForSupervisedLoss } from './laws/supervised.js';
export { predictDistilledLoss, distilledLossFromBaseline, smoothSwitch, type DistillationPoint } from './laws/distillation.js';
export { lawsFromJson } from './laws/from-json.js';

// Compute accounting.
export {
  forwardFlopsPerToken,
  supervisedFlops,
  aspectRatioCoefficients,
  SIMPLE_FLOPS,
  PAPER_ARCHITECTURE,
  type FlopsModel,
  type AspectRatioArchitecture,
} from './compute/flops.js';
export {
  distillationFlops,
  resolveScenario,
  SCENARIOS,
  type ScenarioName,
  type ComputeScenario,
  type ComputeSplit,
  type DistillationComputeInput,
} from './compute/scenarios.js';

// Runs in, fits out.
export {
  readSupervisedRuns,
  readDistillationRuns,
  validateSupervisedRuns,
  validateDistillationRuns,
  SUPERVISED_COLUMN_ALIASES,
  DISTILLATION_COLUMN_ALIASES,
  type SupervisedRun,
  type DistillationRun,
  type SupervisedField,
  type DistillationField,
  type ReadRunsOptions,
} from './data/runs.js';
export { parseQuantity, parsePlainNumber, formatQuantity } from './data/units.js';
export { parseCsv, type CsvTable } from './data/csv.js';
export {
  fitSupervised,
  DEFAULT_HUBER_DELTA,
  type SupervisedFit,
  type SupervisedFitOptions,
  type SupervisedResidual,
  type SupervisedForm,
} from './fit/fit-supervised.js';
export {
  fitDistillation,
  DEFAULT_DISTILLATION_HUBER_DELTA,
  type DistillationFit,
  type DistillationFitOptions,
  type DistillationResidual,
} from './fit/fit-distillation.js';
export { predictSupervisedWithInterval, predictDistilledWithInterval, type PredictionWithInterval } from './fit/predict-interval.js';
export { CHINCHILLA_GRID, BUSBRIDGE_SUPERVISED_GRID, DISTILLATION_GRID, gridSize, type GridAxes } from './fit/grids.js';
export { huberLoss } from './fit/huber.js';
export type {
  GridChoice,
  CommonFitOptions,
  ParameterEstimate,
  FitDiagnostic,
  DiagnosticCode,
  ConvergenceReport,
  BootstrapSummary,
  FitResultBase,
} from './fit/types.js';

// Planning.
export { planDistillation, supervisedBaselineFor, type PlanDistillationOptions, type DistillationPlan } from './plan/plan-distillation.js';
export { supervisedComputeOptimal, type SupervisedOptimum, type SupervisedBaseline } from './plan/supervised-optimal.js';
export { distillationCrossover, type CrossoverOptions, type Crossover } from './plan/crossover.js';
export { optimalTeacherLoss, teacherLossSweep, type OptimalTeacher, type TeacherLossPoint } from './plan/teacher-loss.js';
export type { PlanningLaws, SearchRange } from './plan/common.js';

// Optimisers (exported for reuse and testing).
export {
  BoundedLbfgs,
  type BoundedMinimizeOptions,
  type BoundedMinimizeResult,
  type ObjectiveWithGradient,
  type StopReason,
} from './optim/lbfgsb.js';
export { minimize1d, bisectRoot } from './optim/minimize-1d.js';
export { SeededRandom } from './random.js';

// Plots (SVG strings; writing files is the caller's job).
export { renderObservedVsFitted, renderIsoFlopCurves, renderDistillationFrontier, renderTeacherLossSweep } from './plot/plots.js';
export { renderChart, type ChartSpec, type ChartSeries, type ChartMarker, type AxisScale } from './plot/chart.js';
