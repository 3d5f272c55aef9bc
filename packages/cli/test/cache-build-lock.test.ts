import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_LOCK_FILE, lockCacheBuild } from '../src/distill/cache-build-lock.js';

const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

describe('the teacher cache build lock', () => {
  it('a second builder gets E_LOCKED naming the folder and the pid; a dead builder’s lock is taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-lock-'));
    const lock = await lockCacheBuild(dir);
    const written = JSON.parse(await readFile(join(dir, BUILD_LOCK_FILE), 'utf8')) as { pid: number; host: string };
    expect(written).toMatchObject({ pid: process.pid, host: hostname() });
    await expect(lockCacheBuild(dir)).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringContaining(`teacher cache ${dir} is being built by another process (pid ${process.pid}`),
      details: { field: 'teacher.dir', value: dir, pid: process.pid, lock: join(dir, BUILD_LOCK_FILE) },
    });
    await lock.release();
    await (await lockCacheBuild(dir)).release();

    // Another live process on this host holds it.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const owner = { pid: child.pid!, host: hostname(), startedAt: new Date().toISOString(), target: join(dir, 'build') };
      await writeFile(join(dir, BUILD_LOCK_FILE), JSON.stringify(owner));
      await expect(lockCacheBuild(dir)).rejects.toMatchObject({ code: 'E_LOCKED', details: { pid: child.pid, value: dir } });
    } finally {
      child.kill();
    }

    // A builder killed with its lock in place.
    const dead = deadPid();
    await writeFile(join(dir, BUILD_LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then', target: 'x' }));
    const taken = await lockCacheBuild(dir);
    expect(taken.tookOverFrom?.pid).toBe(dead);
    expect(JSON.parse(await readFile(join(dir, BUILD_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await taken.release();
  });
});
