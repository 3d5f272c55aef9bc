#!/usr/bin/env node
// Every browser-safe entry point must bundle for a page with no flags, in esbuild AND Vite:
// no Node built-in, no `webgpu` (Dawn) package, and within its size budget (minified and gzip,
// `export *` of the entry: the worst case, nothing tree-shaken away).
//   node scripts/browser-bundles.mjs            check (part of `npm test`)
//   node scripts/browser-bundles.mjs --measure  print the sizes (to set budgets after a change)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { build as viteBuild } from 'vite';

const root = new URL('..', import.meta.url).pathname;
const measureOnly = process.argv.includes('--measure');
const { '//': _note, ...budgets } = JSON.parse(readFileSync(join(root, 'scripts/browser-budgets.json'), 'utf8'));
/** Packages that are Node by design; every other public package's entries must bundle for a page. */
const NODE_ONLY_PACKAGES = new Set(['@distillery/cli', '@distillery/plugin-teacher-llama-cpp']);
const NODE_ONLY_SUBPATHS = new Set(['./node', './testing', './package.json']);

function browserEntries() {
  const dirs = ['packages', 'plugins'].flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name)));
  const entries = [];
  for (const dir of dirs) {
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (pkg.private || NODE_ONLY_PACKAGES.has(pkg.name)) continue;
    for (const [subpath, target] of Object.entries(pkg.exports ?? { '.': null })) {
      if (NODE_ONLY_SUBPATHS.has(subpath) || isDataFile(target)) continue;
      entries.push(subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);
    }
  }
  return entries.sort();
}

/** A subpath that exports a file as is (`"./model.gguf": "./model.gguf"`): data a page fetches, not a module. */
const isDataFile = (target) => typeof target === 'string' && !/\.[cm]?js$/.test(target);

const forbidden = (id) => isBuiltin(id) || id === 'webgpu' || id.startsWith('webgpu/') || /[\\/]node_modules[\\/]webgpu[\\/]/.test(id);

async function withEsbuild(spec) {
  const result = await esbuild
    .build({
      stdin: { contents: `export * from ${JSON.stringify(spec)};`, resolveDir: root, loader: 'js' },
      bundle: true,
      minify: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    .catch((error) => ({ error }));
  if (result.error) return { problems: (result.error.errors ?? [result.error]).map((e) => e.text ?? String(e)) };
  const problems = Object.keys(result.metafile.inputs)
    .filter(forbidden)
    .map((id) => `bundles ${id}`);
  return { code: result.outputFiles[0].contents, problems };
}

async function withVite(spec, scratch) {
  const dir = join(scratch, spec.replace(/[^a-z0-9]+/gi, '-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'entry.js'), `export * from ${JSON.stringify(spec)};\n`);
  const problems = [];
  const output = await viteBuild({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    // Vite swaps Node built-ins for an empty `__vite-browser-external` module and only warns: catch it.
    plugins: [
      {
        name: 'no-node-builtins',
        enforce: 'pre',
        resolveId(id, importer) {
          if (forbidden(id)) problems.push(`imports ${id}${importer ? ` (from ${importer.replace(root, '')})` : ''}`);
          return null;
        },
      },
    ],
    build: {
      write: false,
      minify: true,
      target: 'es2022',
      lib: { entry: join(dir, 'entry.js'), formats: ['es'], fileName: 'entry' },
      rollupOptions: {
        onwarn(warning) {
          if (/externalized for browser compatibility/.test(warning.message)) problems.push(warning.message);
        },
      },
    },
  }).catch((error) => {
    problems.push(String(error.message ?? error).split('\n')[0]);
    return undefined;
  });
  const chunks = output ? (Array.isArray(output) ? output : [output]).flatMap((o) => o.output ?? []).filter((o) => o.type === 'chunk') : [];
  // Vite's library mode inlines every `new URL('./file', import.meta.url)` asset as a base64 data URL;
  // an app build emits them as files the page fetches, so they are not code size.
  const code = chunks
    .map((c) => c.code)
    .join('\n')
    .replace(/data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+/g, 'data:');
  if (code.includes('__vite-browser-external')) problems.push('a Node built-in was replaced by __vite-browser-external');
  return { code: new TextEncoder().encode(code), problems };
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const scratch = join(root, 'node_modules/.cache/distillery-browser-bundles');
rmSync(scratch, { recursive: true, force: true });
const results = [];
let failed = 0;
try {
  for (const spec of browserEntries()) {
    for (const [bundler, run] of [
      ['esbuild', withEsbuild],
      ['vite', (s) => withVite(s, scratch)],
    ]) {
      const { code, problems } = await run(spec);
      const size = code ? { minified: code.length, gzip: gzipSync(code).length } : undefined;
      const budget = budgets[spec];
      if (size && !measureOnly) {
        if (!budget)
          problems.push(
            `no size budget: add "${spec}" to scripts/browser-budgets.json (measured ${kb(size.minified)} minified, ${kb(size.gzip)} gzip)`,
          );
        else {
          if (size.minified > budget.minified) problems.push(`${kb(size.minified)} minified > budget ${kb(budget.minified)}`);
          if (size.gzip > budget.gzip) problems.push(`${kb(size.gzip)} gzip > budget ${kb(budget.gzip)}`);
        }
      }
      const ok = problems.length === 0;
      if (!ok) failed++;
      results.push({ name: `browser bundle ${spec} (${bundler})`, ok, size, problems });
      console.log(
        `${ok ? 'ok  ' : 'FAIL'} ${bundler.padEnd(7)} ${spec.padEnd(34)} ${size ? `${kb(size.minified).padStart(9)} min ${kb(size.gzip).padStart(8)} gz` : ''}${ok ? '' : `\n       ${problems.slice(0, 5).join('\n       ')}`}`,
      );
    }
  }
  // The detector must itself work: a Node-only entry has to be caught by both bundlers.
  for (const [bundler, run] of [
    ['esbuild', withEsbuild],
    ['vite', (s) => withVite(s, scratch)],
  ]) {
    const { problems } = await run('@distillery/core/node');
    const ok = problems.length > 0;
    if (!ok) failed++;
    results.push({ name: `browser bundle check catches node:fs (${bundler})`, ok, problems });
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${bundler.padEnd(7)} @distillery/core/node is rejected${ok ? ` (${problems[0]})` : ': the check did not notice node:fs'}`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (!measureOnly)
  writeFileSync(
    join(root, 'test-results-browser-bundles.json'),
    JSON.stringify(
      { success: failed === 0, numPassedTests: results.length - failed, numFailedTests: failed, numPendingTests: 0, results },
      null,
      2,
    ),
  );
console.log(`browser bundles: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
