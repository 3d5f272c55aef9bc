import type { CliCommand } from '../command.js';
import { selfcheckCommand } from './selfcheck.js';

/** Every subcommand, in the order `distillery --help` lists them. */
export const commands: readonly CliCommand[] = [selfcheckCommand];
