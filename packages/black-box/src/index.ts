// The browser-safe half: OpenAI-compatible client, replay teacher, retries, budgets, step-by-step
// prompts/parsers/datasets and students (on a GPUDevice the caller passes in). Files, the HTTP
// server, collection and the config pipelines are in `@distillery/black-box/node`.
export * from './errors.js';
export * from './hash.js';
export * from './jsonl-text.js';
export * from './cache.js';
export * from './retry.js';
export * from './rate-limit.js';
export * from './budget.js';
export * from './openai.js';
export * from './replay.js';
export * from './topk.js';
export * from './step-by-step/arith.js';
export * from './step-by-step/presets.js';
export * from './step-by-step/prompt.js';
export * from './step-by-step/dataset.js';
export * from './progress.js';
export * from './step-by-step/student/sequences.js';
export * from './step-by-step/student/batches.js';
export * from './step-by-step/student/task-loss.js';
export * from './step-by-step/student/decode.js';
export * from './step-by-step/student/evaluate.js';
export * from './request-check.js';
export type { CollectedRecord, CollectFailure, CollectItem, CollectOptions, CollectProgress, CollectSummary } from './collect.js';
