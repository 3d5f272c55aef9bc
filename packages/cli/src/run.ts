import { isDistilleryError } from '@distillery/core';
import type { CliCommand, CliIO } from './command.js';
import { commands as builtInCommands } from './commands/index.js';

function help(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: distillery <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `distillery <command> --help` for the options of one command.',
  ].join('\n');
}

/** Runs the CLI in-process and returns its exit code; the bin is a thin wrapper over this. */
export async function runCli(argv: string[], io: CliIO, commands: readonly CliCommand[] = builtInCommands): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${help(commands)}\n`);
    return name === undefined ? 1 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr(`distillery: unknown command ${JSON.stringify(name)}. Known: ${commands.map((c) => c.name).join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (isDistilleryError(error)) {
      io.stderr(`distillery ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
