/**
 * The packages in headless Chromium (WebGPU on SwiftShader): kernels against the float64
 * references inside the page, training steps whose losses equal Node's, and the example page
 * distilling live. Without Chromium or an adapter these tests skip loudly — and fail under
 * DISTILLERY_REQUIRE_GPU=1 (CI).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDevice } from '@distillery/webgpu';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChecksReport } from '../src/checks/page.js';
import { runTrainingSteps } from '../src/checks/training-steps.js';
import { chromiumPath, launchChromium, serveStatic } from './chromium.js';

const requireGpu = process.env.DISTILLERY_REQUIRE_GPU === '1';
const root = new URL('..', import.meta.url).pathname;
const outputDir = join(root, 'test-output');

if (!chromiumPath) {
  const reason = 'no Chromium: run `npm run setup` (installs Debian chromium) or set DISTILLERY_CHROMIUM';
  if (requireGpu) throw new Error(`DISTILLERY_REQUIRE_GPU=1 but the browser tests cannot run: ${reason}`);
  console.warn(`\n${'!'.repeat(72)}\n!! BROWSER TESTS SKIPPED: ${reason}\n${'!'.repeat(72)}\n`);
}

describe.skipIf(!chromiumPath)('in headless Chromium', () => {
  let browser: Browser;
  let close: () => Promise<void>;
  let server: Server;
  let url: string;
  let built: string;
  let checks: ChecksReport;

  beforeAll(async () => {
    built = mkdtempSync(join(tmpdir(), 'distillery-page-'));
    await build({ root, logLevel: 'error', build: { outDir: built, emptyOutDir: true } });
    ({ url, server } = await serveStatic(built));
    ({ browser, close } = await launchChromium());
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}checks.html`);
    checks = await page.evaluate(() => window.distilleryChecks!);
    if (errors.length) throw new Error(`checks.html threw: ${errors.join('; ')}`);
    await page.close();
  }, 120_000);

  afterAll(async () => {
    await close?.();
    server?.close();
    if (built) rmSync(built, { recursive: true, force: true });
  });

  it('the page gets a WebGPU adapter (fails under DISTILLERY_REQUIRE_GPU=1 when it does not)', () => {
    if (checks.error && !requireGpu) console.warn(`browser: ${checks.error.code}: ${checks.error.message}`);
    expect(checks.error, 'the page could not run the checks').toBeUndefined();
    expect(checks.adapter?.vendor).toBeTruthy();
  });

  it('tempered softmax and the fused KD loss match their float64 references inside the page', () => {
    const kernels = checks.kernels ?? [];
    expect(kernels.length).toBe(12);
    for (const k of kernels) expect(k.worstRatio, k.name).toBeLessThanOrEqual(1);
  });

  it("MLP distillation steps in the page give Node's losses, step by step (f32 tolerance)", async () => {
    const browserLosses = checks.training?.losses ?? [];
    const { device } = await acquireDevice({ label: 'node-twin' });
    const node = await runTrainingSteps(device);
    device.destroy();
    expect(browserLosses.length).toBe(node.losses.length);
    expect(node.losses.length).toBe(8);
    // Different compilers (SwiftShader vs lavapipe) may order float sums differently: equal to f32 rounding, not bit for bit.
    browserLosses.forEach((loss, i) =>
      expect(Math.abs(loss - node.losses[i]!), `step ${i + 1}: browser ${loss} vs node ${node.losses[i]}`).toBeLessThanOrEqual(
        1e-5 * Math.max(1, Math.abs(loss)),
      ),
    );
    // Training happened: the loss moved.
    expect(Math.abs(browserLosses.at(-1)! - browserLosses[0]!)).toBeGreaterThan(1e-3);
  });

  it('the example page distils live in a worker: curves, teacher vs student error, adapter, screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}index.html?quick&autostart`);
    await page.waitForFunction(() => document.body.dataset.done || document.body.dataset.error, undefined, { timeout: 90_000 });
    expect(await page.evaluate(() => document.body.dataset.error)).toBeUndefined();
    expect(await page.evaluate(() => document.body.dataset.done)).toBe('finished');
    expect(await page.textContent('#adapter')).toMatch(/google|swiftshader|\w+/i);
    const errorOf = async (id: string) => Number((await page.textContent(id))!.replace('%', '')) / 100;
    const teacher = await errorOf('#teacher-error');
    const student = await errorOf('#student-error');
    // Two quick epochs on 1,200 digits: both far better than chance (90 %).
    expect(teacher).toBeGreaterThan(0);
    expect(teacher).toBeLessThan(0.3);
    expect(student).toBeLessThan(0.4);
    expect(await page.textContent('#data-rows')).toBe('1200 / 300');
    expect(await page.isEnabled('#download')).toBe(true);
    // The scaling-law panel (pure TypeScript): fit the pasted synthetic runs, see the plot.
    await page.click('#fit');
    await page.waitForFunction(() => !document.getElementById('fit-status')!.textContent!.startsWith('fitting'), undefined, {
      timeout: 30_000,
    });
    expect(await page.textContent('#fit-result')).toMatch(/^E = 1\.2\d* {3}A = .* {3}alpha = 0\.\d+/);
    expect(await page.textContent('#fit-status')).toMatch(/^54 runs fitted/);
    expect(await page.locator('#fit-plot svg').count()).toBe(1);
    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, 'example-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('stop ends the worker cleanly mid-run; a file that is not safetensors is a clear message, not a frozen tab', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}index.html?quick&autostart`);
    await page.waitForFunction(() => /teacher: step [3-9]/.test(document.getElementById('status')!.textContent!), undefined, {
      timeout: 60_000,
    });
    await page.click('#stop');
    await page.waitForFunction(() => document.body.dataset.done, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => document.body.dataset.done)).toBe('stopped');
    expect(await page.textContent('#status')).toBe('Stopped.');
    expect(await page.isEnabled('#start')).toBe(true);

    await page.setInputFiles('#teacher-file', {
      name: 'teacher.safetensors',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('this is not a safetensors file'),
    });
    await page.click('#start');
    await page.waitForFunction(() => document.body.dataset.error, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => document.body.dataset.error)).toBe('E_CORRUPT_FILE');
    expect(await page.textContent('#alert')).toMatch(/^E_CORRUPT_FILE: teacher file: /);
    await page.waitForFunction(() => document.body.dataset.state === 'idle', undefined, { timeout: 10_000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
