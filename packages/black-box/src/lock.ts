/**
 * An exclusive lock on a collection's output: `<output>.lock`, linked into place whole and holding who
 * owns it. Two collectors appending to the same JSONL would each ask for every missing id (double
 * the paid requests, two records per id); the second one must refuse instead.
 *
 * A lock whose owner is gone (same host, pid no longer running: a kill -9, a crash) is stale and is
 * taken over. A lock from another host cannot be checked (its pid means nothing here) and is
 * refused; the message says which file to delete once that run is known to be dead.
 */
import { hostname } from 'node:os';
import { link, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DistilleryError } from '@distillery/core';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the owner took the lock. */
  startedAt: string;
  /** What the lock protects (the output path). */
  target: string;
}

export interface OutputLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** A stale lock (dead owner) was replaced; its former owner. */
  readonly tookOverFrom: LockOwner | undefined;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(path: string): Promise<{ owner: LockOwner | undefined; text: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    return { owner: Number.isInteger(owner?.pid) && typeof owner.host === 'string' ? owner : undefined, text };
  } catch {
    // A lock file torn by a crash between create and write: nobody can be holding it meaningfully.
    return { owner: undefined, text };
  }
}

function isStale(owner: LockOwner | undefined): boolean {
  if (!owner) return true;
  return owner.host === hostname() && !alive(owner.pid);
}

function lockedError(path: string, target: string, owner: LockOwner): DistilleryError {
  const here = owner.host === hostname();
  return new DistilleryError(
    'E_LOCKED',
    `${target} is being written by another process (pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}); ` +
      (here ? 'wait for it to finish or stop it' : `if that run is dead, delete ${path}`),
    { field: 'output', value: target, lock: path, pid: owner.pid, host: owner.host, startedAt: owner.startedAt },
  );
}

/**
 * Takes `<target>.lock` or throws E_LOCKED naming the live owner. Stale locks are taken over:
 * the stale file is renamed aside (atomic, so of two processes taking over at once only one wins)
 * and checked to still be the stale one before ours is created.
 */
export async function acquireOutputLock(target: string, { now = () => new Date() }: { now?: () => Date } = {}): Promise<OutputLock> {
  const path = `${target}.lock`;
  await mkdir(dirname(path), { recursive: true });
  const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: now().toISOString(), target };
  let tookOverFrom: LockOwner | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    // Written whole beside it, then linked into place: link fails if the lock exists (as O_EXCL),
    // and a reader never sees a half-written lock (which it would take for a crashed owner's).
    const draft = `${path}.draft-${process.pid}-${Date.now().toString(36)}`;
    await writeFile(draft, `${JSON.stringify(owner)}\n`);
    let linked = false;
    try {
      await link(draft, path);
      linked = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(draft).catch(() => undefined);
    }
    if (linked) {
      let released = false;
      return {
        path,
        owner,
        tookOverFrom,
        async release() {
          if (released) return;
          released = true;
          // Only remove the lock if it is still ours.
          const current = await readOwner(path);
          if (current?.owner?.pid === owner.pid && current.owner.host === owner.host && current.owner.startedAt === owner.startedAt)
            await rm(path, { force: true });
        },
      };
    }
    const existing = await readOwner(path);
    if (!existing) continue; // released between our create and our read: try again
    if (!isStale(existing.owner)) throw lockedError(path, target, existing.owner!);
    const aside = `${path}.stale-${process.pid}-${Date.now().toString(36)}`;
    try {
      await rename(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = await readFile(aside, 'utf8').catch(() => '');
    if (moved !== existing.text) {
      // Someone else took over first and we moved their live lock: put it back and refuse.
      await link(aside, path).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      const now = await readOwner(path);
      if (now?.owner && !isStale(now.owner)) throw lockedError(path, target, now.owner);
      continue;
    }
    await unlink(aside).catch(() => undefined);
    tookOverFrom = existing.owner ?? tookOverFrom;
  }
  const last = await readOwner(path);
  throw lockedError(path, target, last?.owner ?? { pid: -1, host: 'unknown', startedAt: 'unknown', target });
}
