/**
 * Typed errors for files the user named (Node only). Reading a folder, a missing path or a path
 * through a file gives a raw Node error with a stack trace; these turn the common cases into a
 * DistilleryError naming the field and the path.
 */
import { readFile, stat } from 'node:fs/promises';
import { DistilleryError } from './errors.js';

/** The DistilleryError for a failed read of `path` (given as option `field`), or undefined for an unexpected error. */
export function fileReadError(error: unknown, path: string, field: string, what = 'file'): DistilleryError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const details = { field, value: path, file: path };
  const cause = { cause: error };
  switch (code) {
    case 'ENOENT':
      return new DistilleryError('E_NOT_FOUND', `${field}: ${what} ${path} does not exist`, details, cause);
    case 'ENOTDIR':
      return new DistilleryError(
        'E_NOT_FOUND',
        `${field}: ${what} ${path} does not exist (a part of the path is a file, not a folder)`,
        details,
        cause,
      );
    case 'EISDIR':
      return new DistilleryError(
        'E_BAD_VALUE',
        `${field}: ${path} is a folder, expected a ${what}`,
        { ...details, expected: `a ${what}` },
        cause,
      );
    case 'EACCES':
    case 'EPERM':
      return new DistilleryError(
        'E_BAD_VALUE',
        `${field}: ${what} ${path} cannot be read (permission denied)`,
        { ...details, expected: 'a readable file' },
        cause,
      );
    default:
      return undefined;
  }
}

/** `readFile` that throws `fileReadError`s (E_NOT_FOUND, E_BAD_VALUE) naming `field`. */
export async function readUserFile(path: string, field: string, encoding: 'utf8'): Promise<string>;
export async function readUserFile(path: string, field: string): Promise<Uint8Array>;
export async function readUserFile(path: string, field: string, encoding?: 'utf8'): Promise<string | Uint8Array> {
  try {
    return encoding ? await readFile(path, encoding) : new Uint8Array(await readFile(path));
  } catch (error) {
    throw fileReadError(error, path, field) ?? error;
  }
}

/** Throws E_BAD_VALUE when `path` exists and is a folder (an output that must be a file). */
export async function requireNotDirectory(path: string, field: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory())
    throw new DistilleryError('E_BAD_VALUE', `${field}: ${path} is a folder, expected a file path`, {
      field,
      value: path,
      expected: 'a file path',
    });
}
