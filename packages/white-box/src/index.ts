export type { TransferBatch } from './batch.js';
export { ShuffledBatches, uploadBatch, releaseBatch, checkClassificationData, type ClassificationData } from './data.js';
export { evaluateClassifier, deviceOf, type ClassifierMetrics } from './evaluate.js';
export { WhiteBoxDistiller, type WhiteBoxDistillerOptions } from './distiller.js';
export { distill, DISTILL_DEFAULTS, type DistillOptions, type DistillResult } from './distill.js';
export { ModelTeacher } from './teachers/model-teacher.js';
export { EnsembleTeacher, type EnsembleOptions } from './teachers/ensemble-teacher.js';
export { CachedTeacher } from './teachers/cached-teacher.js';
export { mixtureLogits, mixtureLogitsReference, mixtureProgram } from './kernels/mixture/mixture.js';
export {
  CACHE_FORMAT,
  rowBytes,
  topKFromLogits,
  encodeRows,
  decodeRowInto,
  type CacheIndex,
  type CacheShard,
  type CachedRows,
} from './cache/format.js';
export {
  chooseChunkRows,
  fusedLinearKdLoss,
  type FusedKdSettings,
  type FusedLinearKdOptions,
  type FusedLinearKdResult,
} from './fused-linear-kd.js';
export { unfusedLinearKdLoss } from './unfused-linear-kd.js';
export { FusedHeadStudent, FusedLinearKdLoss, isFusedHeadModel, type FusedHeadModel, type FusedLinearKdLossConfig } from './fused-head.js';
export { HiddenStateMatch, type HiddenPair, type HiddenStateMatchOptions } from './hidden-state-match.js';
export {
  HIDDEN_MATCH_LOSSES,
  hiddenMatch,
  hiddenMatchProgram,
  recordHiddenMatch,
  type HiddenMatchOptions,
} from './kernels/hidden-match/hidden-match.js';
export { hiddenMatchWgsl, type HiddenMatchLoss, type HiddenMatchVariant } from './kernels/hidden-match/hidden-match.wgsl.js';
export { hiddenMatchReference, hiddenStateMatchReference, type HiddenStateMatchReferenceInputs } from './kernels/hidden-match/reference.js';
export { TokenWindows, releaseLmBatch, type TokenCorpus, type TokenWindowsOptions, type WindowBatch } from './lm/token-windows.js';
export { evaluateLanguageModel, type EvaluateLanguageModelOptions, type LanguageModelMetrics } from './lm/evaluate-lm.js';
export { LmDistiller, type LmDistillerOptions } from './lm/lm-distiller.js';
