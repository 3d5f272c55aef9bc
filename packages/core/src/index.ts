// The public API of @distillery/core (browser-safe). Named exports only: a module's helpers stay
// internal unless listed here (scripts/repo-checks.mjs rejects `export *` from a relative module).
export {
  DistilleryError,
  ERROR_CODES,
  badValue,
  describeValue,
  isDistilleryError,
  requireInteger,
  requireNonNegative,
  requirePositive,
  shapeMismatch,
  type ErrorCode,
  type ErrorDetails,
} from './errors.js';
export {
  BYTES_PER_ELEMENT,
  elementCount,
  type DType,
  type HostArray,
  type HostTensor,
  type Readable,
  type TensorLike,
} from './contracts/tensor.js';
export type {
  BlackBoxTeacher,
  ChatMessage,
  Completion,
  CompletionRequest,
  DenseTargets,
  TargetsExtras,
  TargetsOptions,
  Teacher,
  TeacherTargets,
  TokenLogprob,
  TopKTargets,
  WhiteBoxTeacher,
} from './contracts/teacher.js';
export type { BackwardOptions, ModelState, Parameter, Student } from './contracts/student.js';
export type { Loss, LossInputs, LossOutput, LossTerm } from './contracts/loss.js';
export type { HiddenLoss, HiddenLossInputs, HiddenLossOutput, HiddenStateWidths } from './contracts/hidden-loss.js';
export type { Optimizer, OptimizerState } from './contracts/optimizer.js';
export {
  constant,
  cosine,
  linear,
  stepDecay,
  toScheduler,
  warmup,
  type RampConfig,
  type Scheduler,
  type SchedulerLike,
} from './schedulers.js';
export { Rng, deriveSeed } from './rng.js';
export { parseConfig, type ConfigIssue } from './config.js';
export {
  PluginRegistry,
  definePlugin,
  pluginName,
  type AnyPluginDefinition,
  type PluginContext,
  type PluginDefinition,
  type PluginKind,
  type PluginSpec,
} from './registry.js';
export { createRegistry } from './builtin-plugins.js';
export { MemoryCheckpointStore, type CheckpointStore, type TrainingCheckpoint } from './checkpoint.js';
export { decodeSafetensors, encodeSafetensors, type SafetensorsContent } from './safetensors.js';
export {
  earlyStopping,
  earlyStoppingSchema,
  type CallbackEvaluation,
  type CallbackRunEnd,
  type CallbackStep,
  type EarlyStoppingConfig,
  type TrainingCallback,
} from './callbacks.js';
export { Distiller, type DataSource, type DistillerEvents, type DistillerOptions, type RunSummary, type StepEvent } from './distiller.js';
export { redactSecrets, safeUrlText } from './secrets.js';
export { floatBits, floatToHalf, halfToFloat } from './half.js';
