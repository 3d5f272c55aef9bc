import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError, type PluginSpec } from '@distillery/core';
import type { CacheIndex } from '@distillery/white-box';
import type { CliIO } from '../command.js';

/**
 * What both `cache` teachers (feature rows, text windows) keep beside white-box's index.json:
 * `source.json`, a record of what the cache was built from, so a cache of other data is refused.
 */

export const SOURCE_FILE = 'source.json';

/** The record formats: feature rows (a classifier's cache) and text windows (a language model's). */
export const ROWS_SOURCE_FORMAT = 'distillery-distill-cache-source/1';
export const WINDOWS_SOURCE_FORMAT = 'distillery-distill-lm-cache-source/1';
const BUILT_FROM: Record<string, string> = {
  [ROWS_SOURCE_FORMAT]: 'feature rows (a classifier)',
  [WINDOWS_SOURCE_FORMAT]: 'text windows (a language model)',
};

/** How every "this cache is not this run's" message ends. */
export const START_OVER = 'delete the folder to rebuild it, or set another `teacher.dir`';

/** A source record: its `format` says which cache teacher wrote it. */
export interface CacheSourceRecord {
  format: string;
  build: PluginSpec;
}

/**
 * The source record in `dir` when it is in `format` and `isComplete`; undefined when there is none.
 * The other cache teacher's record is E_BAD_CONFIG (saying what it was built from); anything else
 * E_CORRUPT_FILE.
 */
export async function readCacheSource<T extends CacheSourceRecord>(
  dir: string,
  format: T['format'],
  isComplete: (record: T) => boolean,
): Promise<T | undefined> {
  const file = join(dir, SOURCE_FILE);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  let record: Partial<T> | undefined;
  try {
    record = JSON.parse(text) as Partial<T>;
  } catch {
    record = undefined;
  }
  if (record?.format === format && isComplete(record as T)) return record as T;
  const builtFrom = typeof record?.format === 'string' ? BUILT_FROM[record.format] : undefined;
  if (builtFrom && record!.format !== format)
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `teacher cache ${dir} was built from ${builtFrom}, not ${BUILT_FROM[format]}: ${START_OVER}`,
      {
        field: 'teacher.dir',
        value: dir,
        file,
      },
    );
  throw new DistilleryError('E_CORRUPT_FILE', `teacher cache ${dir}: ${SOURCE_FILE} is not a ${format} file`, {
    field: 'teacher.dir',
    value: dir,
    file,
  });
}

/** Rows the cache's shards hold so far (a complete cache: `index.rows`). */
export const rowsWritten = (index: CacheIndex): number => index.shards.reduce((n, shard) => n + shard.rows, 0);

/** A build's progress line on stderr at most once a second (and at the end). */
export function buildProgress(io: CliIO, unit: string): (done: number, total: number) => void {
  const started = performance.now();
  let lastDraw = 0;
  return (done, total) => {
    const now = performance.now();
    if (done < total && now - lastDraw < 1000) return;
    lastDraw = now;
    const line = `teacher cache ${((100 * done) / total).toFixed(0).padStart(3)}% ${done}/${total} ${unit} ${((now - started) / 1000).toFixed(0)}s`;
    io.stderr(io.isTTY ? `\r${line.padEnd(60)}${done === total ? '\n' : ''}` : `${line}\n`);
  };
}
