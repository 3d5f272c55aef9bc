// The browser-safe half of Distilling step-by-step (Hsieh et al. 2023): task presets (prompt
// layouts and answer parsers), few-shot prompts and collection items, the dataset builder, and the
// student's batches, loss and evaluation on a GPUDevice the caller passes in. Data files, training
// with checkpoints and the `distillery step-by-step` runner are in `@distillery/step-by-step/node`.
export { evaluateArithmetic, type ArithResult } from './arith.js';
export {
  arithmetic,
  multipleChoice,
  nli,
  parseLikeReference,
  PRESETS,
  type Exemplar,
  type ParseFailureReason,
  type ParseResult,
  type PresetName,
  type StepByStepExample,
  type TaskPreset,
} from './presets.js';
export { buildFewShotPrompt, stepByStepItems, type FewShotOptions, type StepByStepRequestOptions } from './prompt.js';
export {
  buildEvaluationSet,
  buildStepByStepDataset,
  EXPLAIN_PREFIX,
  parseCompletions,
  PREDICT_PREFIX,
  taskPairs,
  teacherAccuracy,
  type BuildOptions,
  type BuildStats,
  type BuiltDataset,
  type ParsedExample,
  type RejectedRecord,
  type StepByStepRecord,
  type TeacherAccuracy,
} from './dataset.js';
export { stepByStepTokenizer, type StudentTask } from './student/sequences.js';
export {
  StepByStepBatches,
  type StepByStepBatch,
  type StepByStepBatchesOptions,
  type TrainingMode,
  type TruncationStats,
} from './student/batches.js';
export { TaskCrossEntropyLoss } from './student/task-loss.js';
export { greedyDecode, type GreedyDecodeOptions } from './student/decode.js';
export { labelAccuracy, taskCrossEntropy, type LabelAccuracy, type TaskCrossEntropy } from './student/evaluate.js';
