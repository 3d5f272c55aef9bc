import { execFile, spawn } from 'node:child_process';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DistilleryError } from '@distillery/core';
import type { RevisionInfo } from './report.js';

const run = promisify(execFile);

/** Marks a cached checkout whose install and build finished. */
const BUILT_MARKER = '.distillery-bench-built';

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', ['-C', cwd, ...args], { maxBuffer: 16 << 20 })).stdout.trim();
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The commit and subject `rev` names in `repo`; E_NOT_FOUND when git does not know it. */
export async function describeRevision(repo: string, rev: string): Promise<RevisionInfo> {
  let commit: string;
  try {
    commit = await git(repo, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`);
  } catch {
    throw new DistilleryError('E_NOT_FOUND', `--base ${rev}: no such commit in ${repo}`, { field: '--base', value: rev });
  }
  return { rev, commit, subject: await git(repo, 'log', '-1', '--format=%s', commit) };
}

/** A checkout as it stands: its HEAD commit, and whether files other than the results and the rendered page changed. */
export async function describeCheckout(dir: string, rev = 'HEAD'): Promise<RevisionInfo> {
  const info = await describeRevision(dir, 'HEAD');
  const changes = await git(dir, 'status', '--porcelain', '--', '.', ':!benchmarks/results', ':!docs/benchmarks.md');
  return { ...info, rev, dirty: changes.length > 0 };
}

/** Fails unless `dir` holds a built `distillery-bench`. */
export async function requireBuilt(dir: string, field: string): Promise<void> {
  const bin = join(dir, 'benchmarks', 'dist', 'bin.js');
  if (!(await exists(bin)))
    throw new DistilleryError('E_NOT_FOUND', `${field} ${dir}: no built distillery-bench at ${bin} (run npm ci and the build there)`, {
      field,
      value: dir,
    });
}

function runLogged(command: string, args: string[], cwd: string, log: (line: string) => void): Promise<void> {
  log(`$ (cd ${cwd} && ${command} ${args.join(' ')})`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code} in ${cwd}`))));
  });
}

/**
 * A built checkout of `commit` under `cacheDir/<commit>`: a detached git worktree of `repo`,
 * `npm ci`, then the benchmarks and what they import built. Reused while its marker is there
 * (remove it with `git worktree remove <dir>`).
 */
export async function buildRevision(repo: string, commit: string, cacheDir: string, log: (line: string) => void): Promise<string> {
  const dir = join(cacheDir, commit);
  if (await exists(join(dir, BUILT_MARKER))) {
    log(`base: reusing the build in ${dir}`);
    return dir;
  }
  if (!(await exists(join(dir, 'package.json')))) {
    const entries = await readdir(dir).catch(() => []);
    if (entries.length)
      throw new DistilleryError('E_BAD_VALUE', `${dir} exists but is no checkout of ${commit}; remove it or pass --base-dir`, {
        field: '--cache-dir',
        value: dir,
      });
    await runLogged('git', ['-C', repo, 'worktree', 'add', '--detach', dir, commit], repo, log);
  }
  await runLogged('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir, log);
  await runLogged('npx', ['turbo', 'run', 'build', '--filter=@distillery/benchmarks...', '--output-logs=errors-only'], dir, log);
  await writeFile(join(dir, BUILT_MARKER), `${new Date().toISOString()}\n`);
  return dir;
}

/** Every TypeScript source of a checkout's benchmarks (what `optionsReadBy` scans). */
export async function benchmarkSources(dir: string): Promise<string[]> {
  const root = join(dir, 'benchmarks', 'src');
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ts'));
  return Promise.all(files.map((f) => readFile(join(root, f), 'utf8')));
}
