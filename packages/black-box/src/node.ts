/**
 * Node-only black-box parts (`@distillery/black-box/node`): JSONL files, the file response cache,
 * the OpenAI-compatible test server, resumable collection and its export, Batch API files, shards
 * and merging, and the config runners behind `distillery collect` / `merge` (with the pieces
 * `@distillery/step-by-step` builds its own runner from).
 */
export { JsonlAppender, readJsonl, type JsonlReadResult } from './jsonl.js';
export { FileResponseCache } from './cache-file.js';
export { replayTeacherFromCollected } from './replay-file.js';
export { serveOpenAI, type OpenAIServer, type ServeOpenAIOptions } from './server.js';
export {
  collect,
  type CollectedRecord,
  type CollectFailure,
  type CollectItem,
  type CollectOptions,
  type CollectProgress,
  type CollectSummary,
} from './collect.js';
export { exportTrainingData, type ExportOptions, type ExportSummary } from './export.js';
export {
  exportBatch,
  importBatch,
  type BatchInputLine,
  type ExportBatchOptions,
  type ExportBatchSummary,
  type ImportBatchOptions,
  type ImportBatchSummary,
} from './batch-files.js';
export { runBatchJob, type BatchJobResult, type BatchJobState, type RunBatchJobOptions } from './batch-api.js';
export { exportBatchFromConfig, importBatchFromConfig, mergeFromConfig, submitBatchFromConfig } from './batch-config.js';
export { shardOf, type Shard } from './shard.js';
export { mergeCollections, type MergeCollectionsOptions, type MergeInputReport, type MergeReport } from './merge.js';
export { createBlackBoxRegistry } from './plugins.js';
export { readConfigFile } from './config-file.js';
export {
  checkTeacherSpec,
  collectRunOptions,
  collectRunShape,
  disposeTeacher,
  resolveConfigPath,
  resolveTeacher,
  samplingSchema,
  teacherSpecSchema,
  type CollectRunConfig,
  type RunHooks,
  type TeacherSpec,
} from './run-config.js';
export {
  collectConfigSchema,
  exampleFieldsSchema,
  exemplarSchema,
  presetNameSchema,
  runCollectConfig,
  type CollectConfig,
  type CollectRun,
  type FewShotInput,
  type FewShotInputs,
} from './collect-config.js';
export { acquireOutputLock, type LockOwner, type OutputLock } from './lock.js';
