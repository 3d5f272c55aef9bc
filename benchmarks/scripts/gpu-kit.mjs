#!/usr/bin/env node
// Packs distillery-bench for a bare GPU machine (no node, no npm, no network) into one folder:
// a self-contained bundle of the benchmarks, the `webgpu` loader with Linux x64 Dawn only, the
// data files the suites read, a compressed node binary, the vendor (PyTorch CUDA) baseline and
// run.sh, which runs it all there. See benchmarks/README.md ("GPU kit").
//
//   node benchmarks/scripts/gpu-kit.mjs [--out DIR] [--no-node] [--node PATH] [--gzip] [--debs]
//                                       [--no-tfjs] [--plain-dawn] [--no-build]
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(new URL('../..', import.meta.url).pathname);
const scripts = join(root, 'benchmarks', 'scripts');
const MARKER = 'kit.json';

const usage = `Usage: node benchmarks/scripts/gpu-kit.mjs [options]   (npm run bench:kit -- [options])

  --out DIR      where to build the kit (default .gpu-kit at the repository root); replaced if it is a kit
  --no-node      leave out the node binary (run.sh then needs a node on PATH)
  --node PATH    the node binary to pack (default: the one running this script)
  --gzip         compress node (and Dawn) with gzip instead of xz (xz: ~23 MiB for node 20, gzip: ~34 MiB)
  --plain-dawn   ship dawn.node uncompressed (21 MiB instead of ~5), so bench.mjs runs straight from the kit
  --debs         download Debian 12's libvulkan1, libegl1 and libglvnd0 (apt-get download) for machines
                 without a Vulkan loader; skipped with a warning when apt cannot reach its mirror
  --no-tfjs      leave tfjs out of the bundle (the suites then note "tfjs baseline skipped")
  --no-build     bundle the packages' dist/ as they are (default: turbo builds the benchmarks' dependencies first)`;

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    'no-node': { type: 'boolean' },
    node: { type: 'string' },
    gzip: { type: 'boolean' },
    'plain-dawn': { type: 'boolean' },
    debs: { type: 'boolean' },
    'no-tfjs': { type: 'boolean' },
    'no-build': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (args.help) {
  console.log(usage);
  process.exit(0);
}

const fail = (message) => {
  console.error(`gpu-kit: ${message}`);
  process.exit(1);
};
const out = resolve(args.out ?? join(root, '.gpu-kit'));
const started = performance.now();

// The workspace packages are bundled from their dist/: build what is stale (turbo's cache makes it quick).
if (!args['no-build']) {
  const turbo = spawnSync('npx', ['turbo', 'run', 'build', '--filter=@distillery/benchmarks...', '--output-logs=errors-only'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (turbo.status !== 0) fail('building the packages failed (see above); --no-build bundles their dist/ as it is');
}

// The folder is ours only when it holds a kit (or nothing): never delete what someone else put there.
if (existsSync(out)) {
  if (!statSync(out).isDirectory()) fail(`--out ${out} exists and is not a folder`);
  if (readdirSync(out).length > 0 && !existsSync(join(out, MARKER)))
    fail(`--out ${out} is not empty and holds no ${MARKER}: not a GPU kit, not replacing it`);
  rmSync(out, { recursive: true, force: true });
}
mkdirSync(out, { recursive: true });

// Modules the suites import only when a baseline or mode wants them, which cannot travel (native
// addons, a browser driver): inside the kit, importing them fails with this message and the suite
// notes the baseline as unavailable, as it does on any machine without them.
const absent = new Map([
  ['node-llama-cpp', 'native llama.cpp builds, hundreds of MiB'],
  ['esbuild', 'only --browser needs it'],
  ['playwright-core', 'only --browser needs it'],
]);
if (args['no-tfjs']) {
  for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-cpu'])
    absent.set(name, 'the kit was built with --no-tfjs');
}

// Files of the workspace that find data beside themselves through import.meta.url. In the bundle
// their import.meta.url becomes the URL of a mirror of their own path under files/, where the
// data they read is copied (ASSETS), so the bundle finds it wherever the kit is.
const rewritten = new Set();
const ASSETS = [
  'benchmarks/python/torch_baseline.py',
  'packages/data-tinystories/stories260K.gguf',
  'packages/data-tinystories/tinystories-2MiB.txt',
  'packages/data-tinystories/CDLA-Sharing-1.0.txt',
  'packages/data-tinystories/LICENSE',
  'packages/data-tinystories/NOTICE',
  'packages/step-by-step/data',
];

// Packages a suite hands to a child process by URL (`import.meta.resolve`): each is bundled on its
// own beside bench.mjs, and the URL points there. Another one fails the build (add it here).
const RESOLVED = { '@distillery/black-box/node': 'black-box-node' };
const RESOLVE_CALL = /import\.meta\.resolve\(\s*(['"])([^'"]+)\1\s*\)/g;

const benchRequire = createRequire(join(root, 'benchmarks', 'package.json'));
const kitPlugin = {
  name: 'gpu-kit',
  setup(b) {
    // The kit's own copy of the webgpu loader, beside the bundle.
    b.onResolve({ filter: /^webgpu$/ }, () => ({ path: './webgpu/index.js', external: true }));
    b.onResolve({ filter: /^(node-llama-cpp|esbuild|playwright-core|@tensorflow\/[^/]+)$/ }, (a) =>
      absent.has(a.path) ? { path: a.path, namespace: 'gpu-kit-absent' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'gpu-kit-absent' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path} is not in the GPU kit (${absent.get(a.path)})`)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /\.(ts|js|mjs)$/ }, (a) => {
      const rel = relative(root, a.path);
      if (rel.startsWith('..') || rel.split('/').includes('node_modules')) return undefined;
      const text = readFileSync(a.path, 'utf8');
      if (!text.includes('import.meta.url') && !text.includes('import.meta.resolve')) return undefined;
      rewritten.add(rel);
      const url = `new URL(${JSON.stringify(`./files/${rel}`)}, import.meta.url).href`;
      const contents = text.replaceAll('import.meta.url', url).replace(RESOLVE_CALL, (_, _quote, specifier) => {
        if (!RESOLVED[specifier])
          throw new Error(`${rel}: import.meta.resolve('${specifier}') needs ${specifier} in gpu-kit.mjs's RESOLVED`);
        return `new URL(${JSON.stringify(`./${RESOLVED[specifier]}.mjs`)}, import.meta.url).href`;
      });
      return {
        contents,
        loader: a.path.endsWith('.ts') ? 'ts' : 'js',
        resolveDir: dirname(a.path),
      };
    });
  },
};

const bundled = await build({
  entryPoints: {
    bench: join(root, 'benchmarks', 'src', 'bin.ts'),
    adapter: join(scripts, 'gpu-kit', 'adapter.mjs'),
    // The ESM build (import.meta.resolve takes the "import" condition, require.resolve the CommonJS one).
    ...Object.fromEntries(Object.entries(RESOLVED).map(([specifier, name]) => [name, fileURLToPath(import.meta.resolve(specifier))])),
  },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies (tfjs) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __kitCreateRequire } from 'node:module';\nconst require = __kitCreateRequire(import.meta.url);",
  },
  plugins: [kitPlugin],
  metafile: true,
  logLevel: 'error',
});
const bundledInputs = Object.keys(bundled.metafile.inputs);

// Assets: every rewritten file's data must be in ASSETS (checked by the test through the suites).
for (const asset of ASSETS) {
  const from = join(root, asset);
  if (!existsSync(from)) fail(`asset ${asset} is missing`);
  cpSync(from, join(out, 'files', asset), { recursive: true });
}

// The webgpu loader and Linux x64 Dawn only (the package ships every platform: 132 MiB).
const webgpuDir = dirname(benchRequire.resolve('webgpu/package.json'));
const webgpuPkg = JSON.parse(readFileSync(join(webgpuDir, 'package.json'), 'utf8'));
mkdirSync(join(out, 'webgpu', 'dist', 'linux-x64'), { recursive: true });
cpSync(join(webgpuDir, 'index.js'), join(out, 'webgpu', 'index.js'));
cpSync(join(webgpuDir, 'LICENSE.md'), join(out, 'webgpu', 'LICENSE.md'));
writeFileSync(
  join(out, 'webgpu', 'package.json'),
  `${JSON.stringify({ name: 'webgpu', version: webgpuPkg.version, type: 'module', main: 'index.js' }, null, 2)}\n`,
);
const compressor = args.gzip ? 'gzip' : 'xz';
const compress = (from, to) => {
  // xz -9 with two threads: ~1 min for node on a busy 2-core machine; gzip: ~15 s, half again as big.
  const flags = compressor === 'xz' ? ['-9', '-T2', '-c'] : ['-9', '-c'];
  const fd = openSync(to, 'w');
  const result = spawnSync(compressor, [...flags, from], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  if (result.status !== 0) fail(`${compressor} ${from} failed: ${result.error?.message ?? result.stderr.toString()}`);
};
const dawn = join(webgpuDir, 'dist', 'linux-x64', 'dawn.node');
if (args['plain-dawn']) cpSync(dawn, join(out, 'webgpu', 'dist', 'linux-x64', 'dawn.node'));
else compress(dawn, join(out, 'webgpu', 'dist', 'linux-x64', `dawn.node.${compressor === 'xz' ? 'xz' : 'gz'}`));

// node: the nodesource build links only glibc and libstdc++, so it runs on the GPU machine as it is.
let node;
if (!args['no-node']) {
  const nodePath = resolve(args.node ?? process.execPath);
  const version = execFileSync(nodePath, ['--version'], { encoding: 'utf8' }).trim();
  const file = `node.${compressor === 'xz' ? 'xz' : 'gz'}`;
  compress(nodePath, join(out, file));
  node = { file, version, from: nodePath };
}

// The Vulkan loader for machines that have the NVIDIA driver's ICD but no libvulkan.so.1.
let debs = [];
if (args.debs) {
  const dir = join(out, 'debs');
  mkdirSync(dir);
  const result = spawnSync('apt-get', ['download', 'libvulkan1', 'libegl1', 'libglvnd0'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  debs = readdirSync(dir).filter((f) => f.endsWith('.deb'));
  if (result.status !== 0 || debs.length < 3) {
    console.warn(
      `gpu-kit: apt-get download failed, the kit has no Vulkan loader debs: ${(result.stderr ?? result.error?.message ?? '').trim()}`,
    );
    rmSync(dir, { recursive: true, force: true });
    debs = [];
  }
}

cpSync(join(scripts, 'vendor-baseline.py'), join(out, 'vendor-baseline.py'));
cpSync(join(scripts, 'gpu-kit', 'run.sh'), join(out, 'run.sh'));
cpSync(join(scripts, 'gpu-kit', 'ratios.mjs'), join(out, 'ratios.mjs'));
chmodSync(join(out, 'run.sh'), 0o755);

const git = (...a) => spawnSync('git', a, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else files.push({ path: relative(out, path), bytes: statSync(path).size });
  }
};
walk(out);
const bytes = files.reduce((n, f) => n + f.bytes, 0);
const manifest = {
  kit: 1,
  built: new Date().toISOString(),
  revision: git('rev-parse', 'HEAD'),
  dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
  node: node ?? null,
  compression: compressor,
  webgpu: webgpuPkg.version,
  tfjs: !args['no-tfjs'],
  debs,
  absent: Object.fromEntries(absent),
  rewritten: [...rewritten].sort(),
  bundledModules: bundledInputs.length,
  bytes,
  files,
};
writeFileSync(join(out, MARKER), `${JSON.stringify(manifest, null, 2)}\n`);
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
console.log(
  `gpu-kit: ${relative(process.cwd(), out) || '.'} — ${mib(bytes)} in ${files.length + 1} files (${((performance.now() - started) / 1000).toFixed(0)} s)`,
);
for (const f of files.filter((f) => f.bytes > 1 << 20)) console.log(`  ${f.path.padEnd(40)} ${mib(f.bytes)}`);
console.log(
  `Run on the GPU machine (from the repository root, carrying ${relative(root, out)}): bash ${relative(root, out)}/run.sh [suites...] [--quick]`,
);
