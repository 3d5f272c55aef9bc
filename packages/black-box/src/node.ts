/**
 * Node-only black-box parts (`@distillery/black-box/node`): JSONL files, the file response cache,
 * the OpenAI-compatible test server, resumable collection, the step-by-step data loaders, student
 * training with checkpoints, and the config pipelines behind `distillery collect` / `step-by-step`.
 */
export * from './jsonl.js';
export * from './cache-file.js';
export * from './replay-file.js';
export * from './server.js';
export * from './collect.js';
export * from './export.js';
export * from './lock.js';
export * from './step-by-step/data.js';
export * from './plugins.js';
export * from './pipeline.js';
export * from './step-by-step/student/train.js';
export * from './step-by-step/student/compare.js';
