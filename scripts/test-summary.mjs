#!/usr/bin/env node
// Folds every workspace's vitest JSON report (and the packaging and repository checks) into one closing line.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const reports = [];
for (const group of ['packages', 'plugins']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) reports.push(join(dir, name, 'test-results.json'));
}
reports.push(
  join(root, 'benchmarks', 'test-results.json'),
  join(root, 'examples', 'browser', 'test-results.json'),
  join(root, 'test-results-packaging.json'),
  join(root, 'test-results-repo.json'),
  join(root, 'test-results-browser-bundles.json'),
);

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of reports) {
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if (!report.success && (report.numFailedTests ?? 0) === 0) failures.push(`${file}: suite failed to run`);
  for (const suite of report.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) if (test.status === 'failed') failures.push(`${suite.name}: ${test.fullName}`);
  }
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${passed} passed, ${failed + (failures.length > failed ? failures.length - failed : 0)} failed, ${skipped} skipped`);
process.exit(failures.length || failed ? 1 : 0);
