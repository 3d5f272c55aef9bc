export type { CliCommand, CliIO } from './command.js';
export { runCli } from './run.js';
export { commands } from './commands/index.js';
export { runDemo, formatDemoTable, FULL_SETTINGS, QUICK_SETTINGS, type DemoSettings, type DemoResult } from './commands/demo.js';
export { loadMnist, bundledMnistDir, type MnistSplit } from './data/mnist.js';
