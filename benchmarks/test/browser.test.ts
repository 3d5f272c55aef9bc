import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { BenchDocument } from '../src/index.js';

const chromium = [process.env.DISTILLERY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (p) => p && existsSync(p),
);
if (!chromium && process.env.DISTILLERY_REQUIRE_GPU === '1')
  throw new Error('DISTILLERY_REQUIRE_GPU=1 but there is no Chromium for `distillery-bench --browser` (npm run setup installs it)');

describe.skipIf(!chromium)('distillery-bench --browser', () => {
  it('runs a GPU suite in headless Chromium and saves it under the browser adapter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-browser-'));
    const bin = new URL('../dist/bin.js', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(
      'node',
      [bin, 'bandwidth', '--browser', '--quick', '--json', '--save', '--results-dir', dir],
      { maxBuffer: 1 << 24 },
    );
    const doc = JSON.parse(stdout) as BenchDocument;
    expect(doc.adapter?.backend).toBe('browser');
    expect(doc.host.node).toMatch(/^chromium \d+/);
    expect(doc.results.length).toBeGreaterThan(0);
    expect(new Set(doc.results.map((r) => r.suite))).toEqual(new Set(['bandwidth']));
    for (const r of doc.results) expect(r.gbps).toBeGreaterThan(0);
    const saved = await readdir(dir);
    expect(saved).toHaveLength(1);
    expect(JSON.parse(await readFile(join(dir, saved[0]!), 'utf8')).adapter.backend).toBe('browser');
  }, 120_000);

  it('refuses the suites that do not run in a page', async () => {
    const bin = new URL('../dist/bin.js', import.meta.url).pathname;
    const failure = await promisify(execFile)('node', [bin, 'collect', '--browser']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((failure as { code: number }).code).toBe(2);
    expect((failure as { stderr: string }).stderr).toContain('--browser runs the GPU suites only');
  });
});
