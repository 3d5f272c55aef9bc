/**
 * `distillery-bench --browser`: runs the GPU suites inside headless Chromium (Debian's chromium,
 * never a downloaded browser; WebGPU on whatever adapter the browser gives: SwiftShader without a
 * GPU) and returns the same schema-1 document, so results save under the browser's adapter
 * (`google-swiftshader.json`, backend "browser") beside Node's rows.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules } from 'node:module';
import { cpus, platform, release, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { BenchDocument } from '../suite.js';
import type { BrowserBenchReply } from './page.js';

export const BROWSER_SUITE_NAMES = ['bandwidth', 'softmax', 'kd-loss', 'train'];
const CHROMIUM = [process.env.DISTILLERY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(
  Boolean,
) as string[];

export async function runSuitesInChromium(
  names: string[],
  { quick, options, log }: { quick: boolean; options: Record<string, string>; log: (line: string) => void },
): Promise<BenchDocument> {
  const executablePath = CHROMIUM.find((p) => existsSync(p));
  if (!executablePath)
    throw new Error(`--browser needs Chromium (looked at ${CHROMIUM.join(', ')}); \`npm run setup\` installs Debian's chromium`);
  const date = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-browser-'));
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright-core');
  await build({
    entryPoints: [new URL('../src/browser/page.ts', import.meta.url).pathname],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    // The suites load their Node-only parts (PyTorch child process, host-memcpy workers) lazily and the
    // page never asks for them; left external, those chunks are never fetched.
    external: builtinModules.flatMap((m) => [m, `node:${m}`]),
    logLevel: 'error',
  });
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>distillery-bench</title><script type="module" src="./page.js"></script>',
  );
  const server = createServer((req, res) => {
    const file = join(dir, new URL(req.url ?? '/', 'http://x').pathname.replace(/\.\.+/g, ''));
    if (!file.startsWith(dir) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': extname(file) === '.html' ? 'text/html' : 'text/javascript' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless=new',
      '--enable-unsafe-webgpu',
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => log(message.text()));
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/index.html`);
    await page.waitForFunction(() => typeof window.distilleryBench === 'function');
    const reply: BrowserBenchReply = await page.evaluate((request) => window.distilleryBench!(request), { names, quick, options });
    const cpu = cpus();
    return {
      schema: 1,
      adapter: reply.adapter,
      host: {
        os: `${platform()} ${release()}`,
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        node: `chromium ${browser.version()} (via node ${process.version})`,
      },
      date,
      results: reply.results,
      ...(reply.failures.length ? { failures: reply.failures } : {}),
    };
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
