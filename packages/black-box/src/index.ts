// The browser-safe half: OpenAI-compatible client and endpoint pools, replay teacher, retries, rate
// limits, budgets, caches, top-k targets. Files, the HTTP server, collection and the config runners
// are in `@distillery/black-box/node`. Nothing here (or there) loads a GPU module: Distilling
// step-by-step's prompts, datasets and students are `@distillery/step-by-step`.
export { TeacherRequestError, isTeacherRequestError, type TeacherFailureKind, type TeacherRequestErrorInit } from './errors.js';
export { requestKey } from './hash.js';
export { parseJsonlText } from './jsonl-text.js';
export { MemoryResponseCache, type ResponseCache } from './cache.js';
export { withRetry, type RetryPolicy } from './retry.js';
export type { RateLimit } from './rate-limit.js';
export { BudgetTracker, type Budget, type Pricing, type Spend } from './budget.js';
export { OpenAITeacher, type OpenAITeacherOptions } from './openai.js';
export { ReplayTeacher, type ReplayEntry, type ReplayTeacherOptions } from './replay.js';
export { TOPK_PAD_LOGPROB, topKTargetsFromCompletion, type CompletionTopK } from './topk.js';
export { formatCollectProgress } from './progress.js';
export {
  openAIPool,
  TeacherPool,
  type EndpointState,
  type EndpointStats,
  type OpenAIEndpointConfig,
  type PoolEndpoint,
  type TeacherPoolOptions,
} from './pool.js';
export { checkCompletionRequest } from './request-check.js';
export type { CollectedRecord, CollectFailure, CollectItem, CollectOptions, CollectProgress, CollectSummary } from './collect.js';
