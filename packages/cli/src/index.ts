export type { CliCommand, CliIO } from './command.js';
export { runCli } from './run.js';
export { commands } from './commands/index.js';
export { DEMO_CONFIG, QUICK_DEMO_CONFIG } from './commands/demo.js';
export {
  runDistillComparison,
  formatComparisonTable,
  recoveredFraction,
  describeSpec,
  isLmComparison,
  type ComparisonResult,
  type ComparedModel,
  type ComparedModelResult,
  type LmComparisonResult,
  type ComparedLmModelResult,
} from './distill/compare.js';
export { loadMnist, bundledMnistDir, type MnistSplit } from './data/mnist.js';
export { runDistillConfig, readConfigFile, createDistillRegistry, type DistillRunOptions, type DistillRunResult } from './distill/run.js';
export { distillConfigSchema, type DistillConfig, type DistillConfigInput } from './distill/config.js';
export { distillJsonSchema } from './distill/schema.js';
export { distillPlugins, distillContext, type DistillContext } from './distill/plugins.js';
export {
  lmPlugins,
  isTextDocuments,
  isLlamaStudent,
  isLlamaTeacher,
  type TextDocuments,
  type LlamaTeacherPart,
  type LlamaStudentPart,
  type LlamaVocabulary,
  type LmPluginContext,
} from './distill/lm-plugins.js';
export type { LmRunReport } from './distill/run-lm.js';
export { metricsLog, metricsCsv, renderCurves, readMetricsRows, type MetricsRow } from './distill/logs.js';
