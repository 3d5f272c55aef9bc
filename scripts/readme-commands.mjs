#!/usr/bin/env node
// Runs the README's `npx distillery …` lines as a user of a fresh clone would, in a scratch copy
// of the tracked examples with this checkout's node_modules (so `npx` resolves the linked bins,
// never the registry). Lines that need data outside the repository are skipped, with the reason.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const SKIP = [
  // The release's data is vendored, so the dataset-only line runs; training six students does not fit in CI.
  [/step-by-step examples\/step-by-step\/(svamp|cqa)\.json/, 'trains six students (about 40 minutes on a software GPU)'],
  // The full TinyStories run is ≈ 30 minutes; its `--quick` line runs instead.
  [/distill-lm (?!.*--quick)/, 'the full run takes about 30 minutes (its --quick smoke run is checked)'],
];
const commands = [];
let inSh = false;
for (const line of readFileSync(join(root, 'README.md'), 'utf8').split('\n')) {
  if (/^```sh\s*$/.test(line.trim())) inSh = true;
  else if (line.trim() === '```') inSh = false;
  else if (inSh && line.startsWith('npx distillery ')) commands.push(line.replace(/\s+#.*$/, '').trim());
}
const scratch = mkdtempSync(join(tmpdir(), 'distillery-readme-'));
let failed = 0;
try {
  cpSync(join(root, 'examples'), join(scratch, 'examples'), { recursive: true, filter: (src) => !src.endsWith('.run') });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  for (const command of commands) {
    const skip = SKIP.find(([pattern]) => pattern.test(command));
    if (skip) {
      console.log(`skip ${command} (${skip[1]})`);
      continue;
    }
    try {
      execFileSync('bash', ['-c', command], {
        cwd: scratch,
        stdio: 'pipe',
        timeout: 180_000,
        env: { ...process.env, npm_config_offline: 'true' },
      });
      console.log(`ok   ${command}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${command}\n${String(error.stderr ?? error.message).slice(-2000)}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (commands.length === 0) {
  console.log('no `npx distillery` commands found in README.md');
  process.exit(1);
}
process.exit(failed ? 1 : 0);
