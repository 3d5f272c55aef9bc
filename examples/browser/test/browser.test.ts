/**
 * The packages in headless Chromium (WebGPU on SwiftShader): kernels against the float64
 * references inside the page, training steps whose losses equal Node's, and the example page
 * distilling live. Without Chromium or an adapter these tests skip loudly — and fail under
 * DISTILLERY_REQUIRE_GPU=1 (CI).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitStories } from '@distillery/data-tinystories';
import { corpusPath, modelPath } from '@distillery/data-tinystories/node';
import { parseGguf, requireMetadata } from '@distillery/gguf';
import { LlamaLm } from '@distillery/nn';
import { acquireDevice } from '@distillery/webgpu';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChecksReport } from '../src/checks/page.js';
import { runTrainingSteps } from '../src/checks/training-steps.js';
import { LM_QUICK_SETTINGS, LmDistillation, loadTeacher, storiesCorpus, writeStory } from '../src/lm/tinystories.js';
import { chromiumPath, launchChromium, serveStatic } from './chromium.js';

const requireGpu = process.env.DISTILLERY_REQUIRE_GPU === '1';
const root = new URL('..', import.meta.url).pathname;
const outputDir = join(root, 'test-output');
/** DISTILLERY_UPDATE_DOCS=1 also writes the screenshots docs/browser.md shows (a normal run leaves the tree as it is). */
const docsImages = process.env.DISTILLERY_UPDATE_DOCS === '1' ? join(root, '../../docs/img') : undefined;

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

  it("the TinyStories panel distils stories260K live: falling loss equal to Node's, both stories, the student as GGUF, screenshot", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const started = performance.now();
    await page.goto(`${url}index.html?quick&autostart=lm`);
    await page.waitForFunction(
      () => document.getElementById('lm')!.dataset.done || document.getElementById('lm')!.dataset.error,
      undefined,
      {
        timeout: 90_000,
      },
    );
    const seconds = (performance.now() - started) / 1000;
    expect(await page.evaluate(() => document.getElementById('lm')!.dataset.error)).toBeUndefined();
    expect(await page.evaluate(() => document.getElementById('lm')!.dataset.done)).toBe('finished');
    const s = LM_QUICK_SETTINGS;
    // The loss of every step: finite, and falling (the last steps well below the first).
    const losses = JSON.parse((await page.getAttribute('#lm-loss-chart', 'data-losses'))!) as number[];
    expect(losses).toHaveLength(s.steps);
    for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) - 0.5);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(await page.textContent('#lm-loss')).toBe(`${losses[0]!.toFixed(2)} → ${losses.at(-1)!.toFixed(2)}`);
    expect(await page.textContent('#lm-teacher-params')).toBe('292,800');
    const studentParams = Number((await page.textContent('#lm-student-params'))!.replace(/,/g, ''));
    expect(studentParams).toBeGreaterThan(10_000);
    expect(studentParams).toBeLessThan(292_800 / 2);
    // Two stories from the prompt, decoded text beyond it.
    const teacherStory = (await page.textContent('#lm-teacher-story'))!;
    const studentStory = (await page.textContent('#lm-student-story'))!;
    expect(studentStory.startsWith(s.prompt)).toBe(true);
    expect(studentStory.length).toBeGreaterThan(s.prompt.length);
    // The teacher's greedy story is what the same code gives in Node (Dawn on lavapipe) for the same prompt.
    const { device } = await acquireDevice({ label: 'node-tinystories' });
    const teacher = loadTeacher(device, readFileSync(modelPath()), 'stories260K.gguf', s.context);
    const nodeStory = await writeStory(teacher.model, teacher.tokenizer, s.prompt, s.storyTokens);
    expect(teacherStory).toBe(nodeStory.text);
    expect(teacherStory).toMatch(/^Once upon a time, there was a little girl named Lily/);
    // The same run in Node (same stories, seed and settings) gives the page's losses, step by step.
    const corpus = storiesCorpus(splitStories(readFileSync(corpusPath(), 'utf8')).slice(0, s.trainStories), teacher.tokenizer);
    const nodeRun = new LmDistillation(teacher, corpus, s);
    const nodeLosses: number[] = [];
    await nodeRun.run((e) => void nodeLosses.push(e.loss));
    nodeRun.student.release();
    const worst = Math.max(...losses.map((loss, i) => Math.abs(loss - nodeLosses[i]!) / Math.abs(nodeLosses[i]!)));
    console.log(`TinyStories: worst relative difference page vs Node over ${s.steps} steps: ${worst.toExponential(2)}`);
    expect(nodeLosses).toHaveLength(s.steps);
    // Different compilers (SwiftShader vs lavapipe) sum floats in other orders, and Adam carries the difference on.
    expect(worst).toBeLessThan(2e-4);
    expect(await page.textContent('#lm-status')).toMatch(/^Done: 10 steps/);
    // Download: a llama GGUF of the student's shape that Node's LlamaLm reads back, with the page's parameter count.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lm-download')]);
    expect(download.suggestedFilename()).toBe('stories260K-student.gguf');
    const bytes = readFileSync((await download.path())!);
    const file = parseGguf(bytes, { source: 'downloaded student' });
    expect(requireMetadata(file, 'general.architecture', 'string')).toBe('llama');
    expect(requireMetadata(file, 'llama.block_count', 'number')).toBe(s.student.layers);
    expect(requireMetadata(file, 'llama.embedding_length', 'number')).toBe(s.student.width);
    const student = LlamaLm.fromGguf(device, file, { context: s.context });
    expect(student.parameterCount).toBe(studentParams);
    student.release();
    teacher.model.release();
    device.destroy();
    mkdirSync(outputDir, { recursive: true });
    const shot = join(outputDir, 'tinystories-panel.png');
    await page.locator('#lm').screenshot({ path: shot });
    if (docsImages) copyFileSync(shot, join(docsImages, 'browser-tinystories-quick.png'));
    console.log(
      `TinyStories panel: ${s.steps} steps, loss ${await page.textContent('#lm-loss')}, ${await page.textContent('#lm-loss-info')}, page ${seconds.toFixed(1)} s`,
    );
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("TinyStories: a file that is not GGUF is a typed message; the user's GGUF teaches; Stop ends the worker cleanly", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}index.html?quick`);
    await page.setInputFiles('#lm-teacher-file', {
      name: 'not-a-model.gguf',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('this is not a GGUF file, just text'),
    });
    await page.click('#lm-start');
    await page.waitForFunction(() => document.getElementById('lm')!.dataset.error, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => document.getElementById('lm')!.dataset.error)).toBe('E_CORRUPT_FILE');
    expect(await page.textContent('#alert')).toMatch(/^E_CORRUPT_FILE: not-a-model\.gguf: /);
    await page.waitForFunction(() => document.getElementById('lm')!.dataset.state === 'idle', undefined, { timeout: 10_000 });
    expect(await page.isEnabled('#lm-start')).toBe(true);

    // A GGUF of the user's (here the same stories260K under another name) is the teacher.
    await page.setInputFiles('#lm-teacher-file', {
      name: 'my-teacher.gguf',
      mimeType: 'application/octet-stream',
      buffer: readFileSync(modelPath()),
    });
    await page.click('#lm-start');
    await page.waitForFunction(() => Number(document.getElementById('lm')!.dataset.steps) >= 2, undefined, { timeout: 60_000 });
    expect(await page.textContent('#lm-teacher-info')).toMatch(/^parameters: my-teacher, 5 blocks, width 64, 512 tokens$/);
    await page.click('#lm-stop');
    await page.waitForFunction(() => document.getElementById('lm')!.dataset.done, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => document.getElementById('lm')!.dataset.done)).toBe('stopped');
    expect(await page.textContent('#lm-status')).toBe('Stopped.');
    expect(Number(await page.evaluate(() => document.getElementById('lm')!.dataset.steps))).toBeLessThan(LM_QUICK_SETTINGS.steps);
    expect(await page.textContent('#lm-student-story')).toBe('–');
    expect(await page.isEnabled('#lm-start')).toBe(true);
    expect(await page.isHidden('#alert')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('served over plain http from another host name, the page is no secure context and says so instead of freezing', async () => {
    // Chromium resolves a made-up host to 127.0.0.1: http://distillery.test is not potentially trustworthy, so no navigator.gpu.
    const port = new URL(url).port;
    const other = await launchChromium(['--host-resolver-rules=MAP distillery.test 127.0.0.1']);
    try {
      const page = await other.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`http://distillery.test:${port}/index.html`);
      expect(await page.evaluate(() => [window.isSecureContext, 'gpu' in navigator])).toEqual([false, false]);
      expect(await page.textContent('#alert')).toMatch(/not a secure context \(http:\/\/distillery\.test:\d+\).*https:\/\/.*localhost/);
      for (const button of ['#lm-start', '#start']) {
        await page.click(button);
        await page.waitForFunction(() => document.body.dataset.error, undefined, { timeout: 10_000 });
        expect(await page.evaluate(() => document.body.dataset.error)).toBe('E_NO_ADAPTER');
        const alert = (await page.textContent('#alert'))!;
        expect(alert).toMatch(/^E_NO_ADAPTER: This browser offers no WebGPU \(navigator\.gpu is missing\)\./);
        expect(alert).toContain('The page is not a secure context (http://distillery.test:');
        expect(alert).toContain('open it over https:// or from localhost / 127.0.0.1');
        expect(await page.isEnabled(button)).toBe(true);
        await page.evaluate(() => delete document.body.dataset.error);
      }
      // The tab still answers: the planner (no GPU) fits.
      await page.click('#fit');
      await page.waitForFunction(() => !document.getElementById('fit-status')!.textContent!.startsWith('fitting'), undefined, {
        timeout: 30_000,
      });
      expect(await page.textContent('#fit-status')).toMatch(/^54 runs fitted/);
      expect(errors).toEqual([]);
    } finally {
      await other.close();
    }
  }, 60_000);
});
