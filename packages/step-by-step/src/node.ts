/**
 * Node-only step-by-step parts (`@distillery/step-by-step/node`): the release and JSONL loaders
 * (with the vendored copy of the release), student training with checkpoints and the standard vs
 * step-by-step comparison, the `distillery step-by-step` runner, and the few-shot inputs of
 * `distillery collect` configs.
 */
export {
  loadExamplesJsonl,
  loadRecordedOutputs,
  loadStepByStepSplit,
  loadStepByStepWithOutputs,
  type ExampleFields,
  type StepByStepDataset,
  type StepByStepSplit,
} from './data.js';
export { vendoredDataDir } from './release.js';
export {
  studentTrainingSchema,
  trainStudent,
  type StudentRunResult,
  type StudentTrainingConfig,
  type StudentTrainingSettings,
  type TrainStudentOptions,
} from './student/train.js';
export { compareStudents, type CompareStudentsOptions, type ModeSummary, type Spread, type StudentComparison } from './student/compare.js';
export { stepByStepConfigSchema, type StepByStepConfig } from './config.js';
export { runStepByStep, type StepByStepHooks, type StepByStepReport, type StepByStepSplitReport } from './run.js';
export { stepByStepInputs } from './collect-inputs.js';
