import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { badValue } from '@distillery/core';
import type { DistillConfig } from './config.js';

/** Where the trained student is saved: `export.path`, relative to the run folder. */
export const exportedPath = (config: Pick<DistillConfig, 'export'>, runDir: string) =>
  isAbsolute(config.export.path) ? config.export.path : join(runDir, config.export.path);

const statOf = (path: string) =>
  stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });

/**
 * Refuses an `export.path` the end of the run could not write (a folder there, a file where a
 * parent folder goes, a parent the user may not write to) before any training: the student is
 * saved only once it is trained.
 */
export async function checkExportPath(config: Pick<DistillConfig, 'export'>, runDir: string): Promise<void> {
  const path = exportedPath(config, runDir);
  const target = await statOf(path);
  if (target?.isDirectory()) throw badValue('export.path', config.export.path, `a file path (${path} is a folder)`);
  // The nearest existing parent: the save creates the folders below it.
  let parent = dirname(path);
  let info = await statOf(parent);
  while (!info && dirname(parent) !== parent) info = await statOf((parent = dirname(parent)));
  if (info && !info.isDirectory())
    throw badValue('export.path', config.export.path, `a path whose parents are folders (${parent} is a file)`);
  try {
    await access(target ? path : parent, constants.W_OK);
  } catch {
    throw badValue('export.path', config.export.path, `a path this user may write (${target ? path : parent} is not writable)`);
  }
}
