import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CollectedRecord, CollectItem } from '../src/index.js';
import { collect, readJsonl } from '../src/node.js';
import { FakeTeacher, packageRoot, tempDir } from './helpers.js';
import { acquireOutputLock } from '../src/lock.js';

const items = (n: number): CollectItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, request: { prompt: `p${i}`, maxTokens: 8 } }));

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** Runs `collect` on `output` in a separate Node process (the built package) and returns what it printed. */
function collectInChild(output: string, n: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const entry = pathToFileURL(join(packageRoot, 'dist', 'node.js')).href;
  const script = `
    const { collect } = await import(${JSON.stringify(entry)});
    const teacher = { kind: 'black-box', name: 'fake', async complete(r) { return { text: 'child:' + r.prompt, usage: { promptTokens: 1, completionTokens: 1 } }; } };
    const items = Array.from({ length: ${n} }, (_, i) => ({ id: 'id-' + i, request: { prompt: 'p' + i, maxTokens: 8 } }));
    try {
      const summary = await collect({ teacher, items, output: ${JSON.stringify(output)} });
      console.log(JSON.stringify({ ok: true, done: summary.done }));
    } catch (error) {
      console.log(JSON.stringify({ ok: false, code: error.code, message: error.message, details: error.details }));
      process.exitCode = 2;
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('output lock', () => {
  it('a second concurrent collect (another process) on the same output refuses with E_LOCKED naming the first', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    // The first collector holds the output while its slow teacher answers.
    const teacher = new FakeTeacher('fake', 150);
    const first = collect({ teacher, items: items(8), output, concurrency: 1 });
    while (!existsSync(`${output}.lock`)) await new Promise((r) => setTimeout(r, 5));
    const child = await collectInChild(output, 8);
    const summary = await first;
    expect(child.code, child.stderr).toBe(2);
    const reported = JSON.parse(child.stdout.trim()) as { ok: boolean; code: string; message: string; details: Record<string, unknown> };
    expect(reported.code).toBe('E_LOCKED');
    expect(reported.details).toMatchObject({ field: 'output', value: output, pid: process.pid, host: hostname() });
    expect(Number.isNaN(Date.parse(String(reported.details.startedAt)))).toBe(false);
    expect(reported.message).toContain(`pid ${process.pid}`);
    // Nothing duplicated, nothing paid twice, and the lock is gone afterwards.
    expect(summary).toMatchObject({ done: 8, complete: true, duplicates: 0 });
    const ids = (await readJsonl<CollectedRecord>(output)).records.map((r) => r.id);
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
    expect(existsSync(`${output}.lock`)).toBe(false);
  }, 30_000);

  it('refuses a second collector in the same process too', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const first = collect({ teacher: new FakeTeacher('fake', 40), items: items(4), output, concurrency: 1 });
    while (!existsSync(`${output}.lock`)) await new Promise((r) => setTimeout(r, 2));
    await expect(collect({ teacher: new FakeTeacher(), items: items(4), output })).rejects.toMatchObject({
      code: 'E_LOCKED',
      details: { pid: process.pid },
    });
    await first;
  });

  it('takes over a stale lock left by a killed process, and says so', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const pid = deadPid();
    await writeFile(`${output}.lock`, JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', target: output }));
    const summary = await collect({ teacher: new FakeTeacher(), items: items(3), output });
    expect(summary).toMatchObject({ done: 3, complete: true, lockTakenOverFrom: { pid } });
    expect(existsSync(`${output}.lock`)).toBe(false);
  });

  it('takes over a torn (empty or garbage) lock file', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    await writeFile(`${output}.lock`, '{"pid":12');
    const lock = await acquireOutputLock(output);
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), target: output });
    await lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('refuses a lock held on another host (its pid cannot be checked) and names the file to delete', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    await writeFile(
      `${output}.lock`,
      JSON.stringify({ pid: 1, host: 'elsewhere.example', startedAt: '2026-01-01T00:00:00.000Z', target: output }),
    );
    const error = await collect({ teacher: new FakeTeacher(), items: items(2), output }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_LOCKED', details: { host: 'elsewhere.example', pid: 1, lock: `${output}.lock` } });
    expect((error as Error).message).toContain(`delete ${output}.lock`);
    expect(existsSync(output)).toBe(false);
  });

  it('a rerun counts duplicate ids that an unlocked double run left behind', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    await collect({ teacher: new FakeTeacher(), items: items(3), output });
    await collect({ teacher: new FakeTeacher(), items: items(3), output: join(dir, 'b.jsonl') });
    await writeFile(output, (await readFile(output, 'utf8')) + (await readFile(join(dir, 'b.jsonl'), 'utf8')));
    expect(await collect({ teacher: new FakeTeacher(), items: items(3), output })).toMatchObject({ done: 3, duplicates: 3 });
  });
});
