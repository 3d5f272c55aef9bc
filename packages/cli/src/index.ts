export type { CliCommand, CliIO } from './command.js';
export { runCli } from './run.js';
export { commands } from './commands/index.js';
