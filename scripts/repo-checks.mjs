#!/usr/bin/env node
// Checks of the repository as a user meets it, run by `npm test` after the workspace suites:
// the bins are linked into this checkout (so `npx distillery` never reaches the public registry),
// the docs' TypeScript blocks compile (scripts/docs-check.mjs) and the README's commands run
// (scripts/readme-commands.mjs). Writes test-results-repo.json
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
check('docs: every TypeScript block compiles under strict settings against the built packages', () => node('docs-check.mjs'));
check("README: the `npx distillery` commands run from a copy of the repository's examples", () => node('readme-commands.mjs'));

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
