import { readFile, stat } from 'node:fs/promises';
import { DistilleryError } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { parseGguf, type GgufFile } from './read.js';
import { writeGguf, type GgufWriteSpec } from './write.js';

async function statOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Reads and parses a GGUF file. A missing path is `E_NOT_FOUND`, a directory `E_BAD_INPUT`, a file
 * that is not GGUF or is truncated `E_CORRUPT_FILE`; every message names the path.
 */
export async function readGgufFile(path: string): Promise<GgufFile> {
  const info = await statOrUndefined(path);
  if (!info) throw new DistilleryError('E_NOT_FOUND', `${path}: no such GGUF file`, { file: path, field: 'path', value: path });
  if (!info.isFile()) {
    throw new DistilleryError(
      'E_BAD_INPUT',
      `${path} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, expected a GGUF file`,
      { file: path, field: 'path', value: path, expected: 'a GGUF file' },
    );
  }
  return parseGguf(await readFile(path), { source: path });
}

export interface WriteGgufFileOptions {
  /** Replace an existing file (default false: an existing file is an error and is left untouched). */
  overwrite?: boolean;
}

/**
 * Writes a GGUF file atomically (a temporary file renamed into place), from bytes or a write spec.
 * An existing file is refused with `E_BAD_VALUE` naming the path and the `overwrite` option unless
 * `overwrite: true`.
 */
export async function writeGgufFile(path: string, data: Uint8Array | GgufWriteSpec, options: WriteGgufFileOptions = {}): Promise<void> {
  const existing = await statOrUndefined(path);
  if (existing && !options.overwrite) {
    throw new DistilleryError('E_BAD_VALUE', `${path} already exists; pass { overwrite: true } to replace it`, {
      file: path,
      field: 'overwrite',
      value: false,
      expected: 'true to replace the existing file',
    });
  }
  if (existing?.isDirectory())
    throw new DistilleryError('E_BAD_INPUT', `${path} is a directory, expected a file path`, { file: path, field: 'path', value: path });
  await writeFileAtomic(path, data instanceof Uint8Array ? data : writeGguf(data));
}
