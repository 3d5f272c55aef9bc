import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DistilleryError } from '@distillery/core';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** `node:util` parseArgs with errors turned into E_BAD_CONFIG that name the flag. */
export function parseCommandArgs(command: string, argv: string[], options: Options, allowPositionals = true): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    throw new DistilleryError('E_BAD_CONFIG', `distillery ${command}: ${(error as Error).message}`, { field: 'argv', value: argv });
  }
}
