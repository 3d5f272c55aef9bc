import { spawn } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CollectedRecord } from '../src/index.js';
import { serveOpenAI, type OpenAIServer } from '../src/node.js';
import { FakeTeacher, packageRoot, tempDir } from './helpers.js';

const CHILD = join(packageRoot, 'test/fixtures/collect-child.mjs');
const BUILT = existsSync(join(packageRoot, 'dist/index.js'));
const N = 80;
const CONCURRENCY = 4;

async function lineCount(path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').length - 1;
  } catch {
    return 0;
  }
}

/** Runs the child; with `killWhen`, SIGKILLs it as soon as the predicate holds. Resolves with its exit and stdout. */
function runChild(
  args: string[],
  killWhen?: () => Promise<boolean>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    let timer: ReturnType<typeof setInterval> | undefined;
    if (killWhen) {
      let checking = false;
      timer = setInterval(() => {
        if (checking) return;
        checking = true;
        void killWhen().then((kill) => {
          checking = false;
          if (kill && child.exitCode === null) child.kill('SIGKILL');
        });
      }, 2);
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (code !== 0 && signal === null) reject(new Error(`child failed (${code}): ${stderr}`));
      else resolve({ code, signal, stdout });
    });
  });
}

describe.skipIf(!BUILT)('kill -9 and resume with a real child process', () => {
  let server: OpenAIServer;
  const teacher = new FakeTeacher('slow-fake');

  beforeAll(async () => {
    server = await serveOpenAI(teacher, { delayMs: () => 10 + Math.floor(Math.random() * 30) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('loses at most the in-flight requests at each kill, and a rerun completes the set exactly once', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.jsonl');
    const args = [server.url, output, join(dir, 'cache'), String(N), String(CONCURRENCY)];
    const kills: { at: string; lines: number }[] = [];

    // 1. Killed while its first requests are in flight (no record yet, or a handful).
    const before = server.requests;
    let r = await runChild(args, async () => server.requests > before);
    expect(r.signal).toBe('SIGKILL');
    kills.push({ at: 'first request', lines: await lineCount(output) });

    // 2–4. Killed after 9, 31 and 57 records.
    for (const at of [9, 31, 57]) {
      r = await runChild(args, async () => (await lineCount(output)) >= at);
      expect(r.signal).toBe('SIGKILL');
      kills.push({ at: `${at} records`, lines: await lineCount(output) });
      // After one kill, also leave a torn last line, as a kill in the middle of a write would.
      if (at === 31) await appendFile(output, '{"id":"item-999","key":"0f0f","teacher":"slow-fake","completion":{"te');
    }

    // 5. Rerun to the end.
    r = await runChild(args);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      done: number;
      complete: boolean;
      repairedBytes: number;
      resumed: number;
    };
    expect(summary.complete).toBe(true);
    expect(summary.done).toBe(N);

    const text = await readFile(output, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const records = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as CollectedRecord);
    const ids = records.map((rec) => rec.id);
    expect(new Set(ids).size).toBe(ids.length); // no duplicate
    expect(ids.sort()).toEqual(Array.from({ length: N }, (_, i) => `item-${i}`).sort()); // none missing
    for (const rec of records) expect(rec.completion.text).toBe(`answer:prompt number ${rec.id.slice(5)}`);
    // Progress was made between kills, and the teacher answered each prompt about once: every kill
    // loses at most the requests in flight (answers cached but not yet written are reused).
    expect(kills.map((k) => k.lines)).toEqual([...kills.map((k) => k.lines)].sort((a, b) => a - b));
    const repeats = teacher.prompts.length - new Set(teacher.prompts).size;
    expect(teacher.prompts.length).toBeGreaterThanOrEqual(N);
    expect(repeats).toBeLessThanOrEqual(kills.length * CONCURRENCY);
    // One more run: nothing to do, nothing asked.
    const calls = teacher.calls;
    r = await runChild(args);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ done: N, resumed: N, complete: true });
    expect(teacher.calls).toBe(calls);
  });
});
