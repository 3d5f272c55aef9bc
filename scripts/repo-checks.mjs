#!/usr/bin/env node
// Checks of the repository as a user meets it, run by `npm test` after the workspace suites:
// the bins are linked into this checkout (so `npx distillery` never reaches the public registry),
// the docs' TypeScript blocks compile (scripts/docs-check.mjs), the shell commands of README.md and
// docs/getting-started.md run and every `distillery <command> --flag` a doc names exists
// (scripts/doc-commands.mjs), entry points name their exports and kernels declare bindings and
// uniforms through the WGSL kit. Writes test-results-repo.json
// for the summary line.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const results = [];
const check = (name, fn) => {
  try {
    fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name}`);
  } catch (error) {
    const text = `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error.message ?? error);
    results.push({ name, ok: false });
    console.log(`FAIL ${name}\n${text.slice(0, 4000)}`);
  }
};
const node = (script, ...args) =>
  execFileSync(process.execPath, [join(root, 'scripts', script), ...args], { cwd: root, encoding: 'utf8', stdio: 'pipe' });

check('workspace bins are linked into this checkout', () => node('check-bins.mjs'));
check('npx distillery --help runs the workspace bin', () => {
  const out = execFileSync('npx', ['--no-install', 'distillery', '--help'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  if (!out.includes('Usage: distillery')) throw new Error(out);
});
check('npx distillery-bench --help runs the workspace bin', () => {
  const out = execFileSync('npx', ['--no-install', 'distillery-bench', '--help'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  if (!out.includes('Usage: distillery-bench')) throw new Error(out);
});
check('typesVersions lists every subpath export (TypeScript moduleResolution node10 reads only that)', () => {
  const missing = [];
  for (const group of ['packages', 'plugins']) {
    if (!existsSync(join(root, group))) continue;
    for (const name of readdirSync(join(root, group))) {
      const file = join(root, group, name, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      for (const [subpath, conditions] of Object.entries(pkg.exports ?? {})) {
        if (subpath === '.' || typeof conditions !== 'object') continue;
        const key = subpath.slice(2);
        const types = conditions.import?.types ?? conditions.types;
        if (!pkg.typesVersions?.['*']?.[key]?.includes(types))
          missing.push(`${pkg.name}: "typesVersions": { "*": { "${key}": ["${types}"] } }`);
      }
    }
  }
  if (missing.length) throw new Error(`add to package.json:\n  ${missing.join('\n  ')}`);
});
// Every package's src/ folder, for the source checks below.
const packageSrcDirs = () => {
  const dirs = [];
  for (const group of ['packages', 'plugins']) {
    if (!existsSync(join(root, group))) continue;
    for (const name of readdirSync(join(root, group))) {
      const src = join(root, group, name, 'src');
      if (existsSync(src)) dirs.push({ pkg: `${group}/${name}`, src });
    }
  }
  return dirs;
};
const sourceFiles = (dir, skip = () => false) => {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip(path)) continue;
    if (entry.isDirectory()) out.push(...sourceFiles(path, skip));
    else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
};
check('entry points list their exports by name (no `export *` from a relative module in src/index.ts or src/node.ts)', () => {
  const found = [];
  for (const { pkg, src } of packageSrcDirs()) {
    for (const entry of ['index.ts', 'node.ts']) {
      const file = join(src, entry);
      if (!existsSync(file)) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // `export * as ns from './x.js'` names its namespace and stays allowed.
          if (/^\s*export\s+(type\s+)?\*\s+from\s+['"]\.{1,2}\//.test(line)) found.push(`${pkg}/src/${entry}:${i + 1}: ${line.trim()}`);
        });
    }
  }
  if (found.length) throw new Error(`name the public exports instead of re-exporting a whole module:\n  ${found.join('\n  ')}`);
});
check(
  'kernels are declared through the WGSL kit (no `@binding(` or `struct Params` literal in nn, white-box, kernels, webgpu sources)',
  () => {
    const found = [];
    const kit = join(root, 'packages', 'webgpu', 'src', 'wgsl');
    for (const name of ['nn', 'white-box', 'kernels', 'webgpu']) {
      const src = join(root, 'packages', name, 'src');
      if (!existsSync(src)) continue;
      for (const file of sourceFiles(src, (path) => path === kit || path.endsWith('__snapshots__'))) {
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/@binding\(|struct\s+Params\b/.test(line)) found.push(`${file.slice(root.length)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    if (found.length)
      throw new Error(`declare bindings and uniforms with defineKernel (@distillery/webgpu/wgsl):\n  ${found.join('\n  ')}`);
  },
);
check('docs: every TypeScript block compiles under strict settings against the built packages', () => node('docs-check.mjs'));
check(
  "docs: README's and getting-started's shell commands run in a scratch clone; every `distillery <command> --flag` the docs name exists",
  () => node('doc-commands.mjs'),
);

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
writeFileSync(
  join(root, 'test-results-repo.json'),
  JSON.stringify({
    numPassedTests: passed,
    numFailedTests: failed,
    numPendingTests: 0,
    success: failed === 0,
    testResults: [{ name: 'repository', assertionResults: results.map((r) => ({ status: r.ok ? 'passed' : 'failed', fullName: r.name })) }],
  }),
);
console.log(`repository: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
