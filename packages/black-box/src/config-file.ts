import { readFile } from 'node:fs/promises';
import { DistilleryError } from '@distillery/core';
import { fileReadError } from '@distillery/core/node';

/** Reads a JSON config file: E_NOT_FOUND when missing, E_BAD_CONFIG when not JSON. */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw (
      fileReadError(error, path, 'config', 'config file') ??
      new DistilleryError('E_NOT_FOUND', `config file ${path} cannot be read`, { field: 'config', value: path })
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // Position only: V8's message may quote the text around the error, and a config may hold a key.
    const where = /position \d+(?: \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    throw new DistilleryError('E_BAD_CONFIG', `config file ${path} is not valid JSON${where ? ` (at ${where})` : ''}`, {
      field: 'config',
      value: path,
    });
  }
}
