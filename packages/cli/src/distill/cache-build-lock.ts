import { join } from 'node:path';
import { DistilleryError, isDistilleryError } from '@distillery/core';
import { acquireOutputLock, type OutputLock } from '@distillery/black-box/node';

/** The lock file a cache build holds in the cache folder (the pid, host and start time of the builder). */
export const BUILD_LOCK_FILE = 'build.lock';

/**
 * Takes the cache folder's build lock, so that two processes never write the same shards: a second
 * builder gets E_LOCKED naming the folder and the builder's pid; a lock left by a dead builder
 * (same host) is taken over.
 */
export async function lockCacheBuild(dir: string): Promise<OutputLock> {
  try {
    return await acquireOutputLock(join(dir, BUILD_LOCK_FILE.replace(/\.lock$/, '')));
  } catch (error) {
    if (!isDistilleryError(error, 'E_LOCKED')) throw error;
    const { pid, host, startedAt, lock } = error.details as { pid?: number; host?: string; startedAt?: string; lock?: string };
    throw new DistilleryError(
      'E_LOCKED',
      `teacher cache ${dir} is being built by another process (pid ${pid} on ${host}, since ${startedAt}): wait for it to finish and run again (the cache is then reused), or stop it; a lock whose process is dead is taken over (another host's: delete ${lock})`,
      { field: 'teacher.dir', value: dir, lock, pid, host, startedAt },
      { cause: error },
    );
  }
}
