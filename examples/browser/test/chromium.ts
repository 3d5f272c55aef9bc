/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium (never a downloaded browser),
 * WebGPU on SwiftShader with no GPU, pages served from 127.0.0.1 only.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATHS = [
  process.env.DISTILLERY_CHROMIUM,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
].filter(Boolean) as string[];
export const chromiumPath = CHROMIUM_PATHS.find((p) => existsSync(p));

/**
 * The flags: `--enable-unsafe-webgpu` is all WebGPU needs on Linux (SwiftShader's Vulkan without a
 * GPU; `--use-webgpu-adapter=swiftshader` or `--enable-features=Vulkan` change nothing here);
 * `--no-sandbox` only as root; the rest keep a CI run offline and quiet.
 */
export function chromiumFlags(): string[] {
  return [
    '--headless=new',
    '--enable-unsafe-webgpu',
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--disable-extensions',
  ];
}

/** `extraArgs` go after the usual flags (e.g. `--host-resolver-rules=…` to reach 127.0.0.1 under another name). */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<{ browser: Browser; close: () => Promise<void> }> {
  if (!chromiumPath)
    throw new Error(
      `no Chromium found (looked at ${CHROMIUM_PATHS.join(', ')}); run \`npm run setup\` (installs Debian's chromium) or set DISTILLERY_CHROMIUM`,
    );
  // launch() gives every run a fresh temporary profile (--user-data-dir), removed on close.
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumFlags(), ...extraArgs],
    timeout: 60_000,
  });
  return { browser, close: () => browser.close() };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

/** Serves `dir` on 127.0.0.1 (a secure context, so pages get WebGPU) at a free port. */
export async function serveStatic(dir: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}/`, server };
}
