#!/usr/bin/env node
// The docs' commands, as a user of a fresh clone runs them after `npm run setup`.
//
// 1. Every line of the ```sh / ```bash blocks of RUN_DOCS runs, in the order the doc gives it
//    (a later line may read an earlier one's output), in a scratch copy of the tracked files
//    (`git ls-files`: no run folders or other local leftovers) with this checkout's setup outputs
//    (node_modules/, every dist/) linked in, so `npx` resolves the linked bins, never the
//    registry. The scratch copy lives in the system temp folder, so no command can lean on
//    ../shared. A line runs unless a SKIP rule below names it with its reason; `a && b` counts as
//    two commands.
//    Afterwards no tracked file of the clone may have changed (a documented command must not
//    overwrite a user's checkout), and the files WRITES names must exist.
// 2. Every `distillery <command> --flag …` and `distillery-bench <suite> --flag …` that any tracked
//    markdown file names (code blocks and inline code) is a real command, each flag appears in its
//    --help and each examples/… or packages/… file it names exists; every `npm run <script>` is a
//    script and every `node <file>.js` a file of the checkout.
//
// After a doc gains a command: if it takes more than a minute, the doc should show a quicker form
// (`--quick`) that runs here, and the long one gets a SKIP rule saying so.
//
// Prints one `ok` / `skip` / `FAIL` line per command with its time; exits 1 on any FAIL.
// `--list` prints what would run or be skipped and every mention, running nothing;
// `--mentions-only` runs part 2 alone.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const listOnly = process.argv.includes('--list');
const mentionsOnly = process.argv.includes('--mentions-only');

// The docs whose shell blocks run, top to bottom, each in its own fresh scratch copy. A command
// that already ran ok for an earlier doc is not run again.
const RUN_DOCS = ['README.md', 'docs/getting-started.md', 'docs/distill-lm.md', 'docs/scaling-laws.md', 'examples/tinystories/README.md'];

// [pattern over the command line (comments stripped), reason]. The first match wins. A rule for a
// run too long for CI names the smaller form of it that runs instead; a rule for a command that
// needs what CI lacks names where that is tested.
const SKIP = [
  [/^npm run setup\b/, 'CI runs it before `npm test`, and this check runs inside `npm test`'],
  [/^npm test\b/, 'is what CI runs; this check runs inside it'],
  [
    /^npm start(?!.*--quick)/,
    "`distillery demo`, three seeds of teacher and students (≈ 12 min on lavapipe); getting-started's `npm start -- --quick` runs",
  ],
  [
    /^npm install @distillery\//,
    'installs the published packages into your own project; scripts/pack-test.mjs installs the packed tarballs that way',
  ],
  [
    /distill examples\/mnist\/distill\.json/,
    "the demo's three-seed comparison (≈ 12 min on lavapipe); `npx distillery distill examples/mnist/quick.yaml` runs the same runner",
  ],
  [/distill-lm (?!.*--quick)/, 'the full comparison takes about 30 minutes; its `--quick` smoke run runs'],
  [
    /step-by-step examples\/step-by-step\/(svamp|cqa)\.json/,
    'trains six students (about 40 minutes on a software GPU); `step-by-step examples/step-by-step/svamp-dataset.json` runs',
  ],
  [/^npx distillery sweep (?!.*--quick)/, 'trains the whole grid or its check students (hours on lavapipe); its `--quick` line runs'],
  [
    /^llama-cli /,
    "llama.cpp's command line is not part of this repository; distill-lm's export check loads each student.gguf in llama.cpp (node-llama-cpp), which the `--quick` run does",
  ],
  [/distillery-bench bandwidth (?!.*--quick)/, 'the full-size suite takes about a minute on lavapipe; its `--quick` line runs'],
  [
    /distillery-bench all\b(?!.*--quick)/,
    'every suite at full size (tens of minutes); `distillery-bench bandwidth --quick` runs one suite',
  ],
  [
    /distillery-bench .*--browser/,
    'needs Chromium with WebGPU; benchmarks/test/browser.test.ts runs a suite in headless Chromium and saves it (`--browser --save`)',
  ],
];

// [pattern, files the doc says the command writes (relative to the repository root)]: checked after it succeeds.
const WRITES = [
  [
    // getting-started's table of the run folder
    /distill examples\/mnist\/quick\.yaml/,
    ['teacher.safetensors', 'teacher.json', 'checkpoint.safetensors', 'metrics.jsonl', 'metrics.csv', 'curves-loss.svg']
      .concat(['curves-evaluation.svg', 'curves-lr.svg', 'student.safetensors', 'summary.json', 'config.json'])
      .map((name) => `examples/mnist/quick.run/${name}`),
  ],
  [/fit .*--out fit\.json --plot fit\.svg/, ['fit.json', 'fit.svg']],
  [/plan .*--plot frontier\.svg/, ['frontier.svg']],
  [/step-by-step examples\/step-by-step\/svamp-dataset\.json/, ['examples/step-by-step/out/svamp-dataset/train.jsonl']],
  [/sweep examples\/tinystories\/sweep\.json --quick/, ['examples/tinystories/sweep-quick/supervised-runs.csv']],
  [/distill-lm examples\/tinystories\/distill-lm\.json --quick/, ['examples/tinystories/runs-quick/runs/w32-l2/kd/seed-0/student.gguf']],
];

const TIMEOUT_MS = 300_000;
const SLOW_MS = 60_000;

const section = (title) => console.log(`\n== ${title}`);
const seconds = (start) => `${((performance.now() - start) / 1000).toFixed(1).padStart(5)} s`;
let failed = 0;
/** Commands that ran ok, by their text: where they ran. */
const ranOk = new Map();

// ---- fenced blocks and inline code of a markdown file ------------------------------------------

/** The shell lines of a doc's ```sh / ```bash blocks: continuations joined, comments stripped. */
function shellCommands(file) {
  const commands = [];
  let block = null;
  let pending = null;
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (block === null) {
      if (/^```(sh|bash)\b/.test(line)) block = commands.length;
      return;
    }
    if (line.startsWith('```')) {
      block = null;
      return;
    }
    const text = stripComment(line);
    if (pending) {
      pending.text += ` ${text.replace(/\\$/, '').trim()}`;
      if (!text.endsWith('\\')) pending = null;
      return;
    }
    if (!text) return;
    const command = { file, line: index + 1, text: text.replace(/\\$/, '').trim() };
    commands.push(command);
    if (text.endsWith('\\')) pending = command;
  });
  return commands;
}

/** A line without its trailing `# comment` (a `#` outside quotes, after whitespace or at the start). */
function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trim();
  }
  return line.trim();
}

/** Inline code spans of a doc outside fenced blocks (a span may wrap a line). */
function inlineCode(file) {
  const text = readFileSync(join(root, file), 'utf8').replace(/^[ \t]*```[\s\S]*?^[ \t]*```/gm, (block) => block.replace(/[^\n]/g, '')); // lines kept: the numbers stay true
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => ({
    file,
    line: text.slice(0, m.index).split('\n').length,
    text: m[1].replace(/\s+/g, ' '),
  }));
}

// ---- 1. run the shell blocks --------------------------------------------------------------------

/** The files a clone has (deleted-but-uncommitted ones left out). */
function trackedFiles() {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((path) => path && existsSync(join(root, path)));
}

/** A scratch clone: tracked files copied, setup outputs (node_modules/, dist/) linked. */
function scratchClone() {
  const scratch = mkdtempSync(join(tmpdir(), 'distillery-docs-'));
  const copied = new Map(); // path → SHA-256 of the copy
  for (const path of trackedFiles()) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    cpSync(join(root, path), join(scratch, path));
    copied.set(path, digest(join(scratch, path)));
  }
  const ignored = execFileSync('git', ['ls-files', '--others', '--ignored', '--exclude-standard', '--directory', '-z'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\0')
    .map((path) => path.replace(/\/$/, ''))
    .filter((path) => /(^|\/)(node_modules|dist)$/.test(path));
  for (const path of ignored) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    symlinkSync(join(root, path), join(scratch, path));
  }
  return { dir: scratch, copied };
}

const digest = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Tracked files a doc's commands changed or deleted: a user's checkout must not change under them. */
function changedTrackedFiles(scratch) {
  return [...scratch.copied]
    .filter(([path, hash]) => !existsSync(join(scratch.dir, path)) || digest(join(scratch.dir, path)) !== hash)
    .map(([path]) => path);
}

/** The environment of a user's shell: none of the variables npm sets for a script it runs. */
function userEnvironment() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'INIT_CWD' || key === 'NODE' || key === 'PATH') continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !dir.includes('node_modules/.bin') && !dir.includes('node-gyp-bin'))
    .join(':');
  // A bin that is not linked must fail here rather than be fetched from the public registry.
  env.npm_config_offline = 'true';
  return env;
}

function runDoc(file) {
  // `a && b` runs as a, then b: each part is run or skipped on its own, with its own reason.
  const commands = shellCommands(file).flatMap(({ text, ...rest }) => text.split(/\s+&&\s+/).map((part) => ({ ...rest, text: part })));
  section(`${file}: ${commands.length} shell commands, in a scratch clone`);
  if (commands.length === 0) {
    console.log(`FAIL no shell commands found in ${file}`);
    failed++;
    return;
  }
  let scratch = null; // made for the first command that runs
  const env = userEnvironment();
  try {
    for (const { line, text } of commands) {
      const where = `${file}:${line}`;
      const skip = SKIP.find(([pattern]) => pattern.test(text)) ?? (ranOk.has(text) ? [null, `ran ok above (${ranOk.get(text)})`] : null);
      if (skip) {
        console.log(`skip        ${text}  (${where})\n              ↳ ${skip[1]}`);
        continue;
      }
      if (listOnly) {
        console.log(`run         ${text}  (${where})`);
        ranOk.set(text, where);
        continue;
      }
      scratch ??= scratchClone();
      const start = performance.now();
      try {
        execFileSync('bash', ['-c', text], { cwd: scratch.dir, env, stdio: 'pipe', timeout: TIMEOUT_MS, maxBuffer: 64 << 20 });
        const missing = (WRITES.find(([pattern]) => pattern.test(text))?.[1] ?? []).filter((path) => !existsSync(join(scratch.dir, path)));
        if (missing.length) throw new Error(`exited 0 but did not write ${missing.join(', ')}`);
        const slow =
          performance.now() - start > SLOW_MS
            ? `\n              ↳ slow for CI: give the doc a quicker form of it and a SKIP rule for this one`
            : '';
        console.log(`ok   ${seconds(start)} ${text}  (${where})${slow}`);
        ranOk.set(text, where);
      } catch (error) {
        failed++;
        const output =
          error.signal === 'SIGTERM' && performance.now() - start >= TIMEOUT_MS
            ? `timed out after ${TIMEOUT_MS / 1000} s: too long for CI (give the doc a quicker form of it, and this one a SKIP rule)`
            : `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error.message);
        console.log(`FAIL ${seconds(start)} ${text}  (${where})\n${output.slice(-3000)}`);
      }
    }
    if (scratch) {
      const changed = changedTrackedFiles(scratch);
      if (changed.length) {
        failed++;
        console.log(`FAIL        ${file}'s commands changed tracked files of the clone: ${changed.join(', ')}`);
      } else console.log(`ok          no tracked file of the clone changed`);
    }
  } finally {
    if (scratch) rmSync(scratch.dir, { recursive: true, force: true });
  }
}

// ---- 2. every command and flag the docs name exists ---------------------------------------------

function markdownFiles() {
  return execFileSync('git', ['ls-files', '-z', '*.md'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((path) => path && !path.startsWith('.changeset/') && existsSync(join(root, path)));
}

/** `distillery[-bench] <command> …` mentions: the command word and the flags after it. */
function mentions(snippet) {
  const found = [];
  // `npm start -- <flags>` is `distillery demo <flags>` (the root package.json's start script).
  const text = snippet.text.replace(/\bnpm start -- /g, 'distillery demo ');
  for (const part of text.split(/&&|\|\||;|\|/)) {
    const match = /(?:^|[\s(])(distillery(?:-bench)?) ([a-z][a-z0-9-]*)((?: [^#…]*)?)/.exec(part);
    if (!match) continue;
    const [, bin, command, rest] = match;
    const flags = [...rest.matchAll(/(?:^|\s|\[)(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]);
    // The repository's files it names (configs, runs files): outputs of other commands are not named this way.
    const files = [...rest.matchAll(/(?:^|\s)((?:examples|packages)\/[^\s<>…*]+\.(?:json|ya?ml|csv))(?=\s|$)/g)].map((m) => m[1]);
    found.push({ ...snippet, bin, command, flags, files });
  }
  return found;
}

// The linked bin run by node directly: npx would add a second of start-up to each of these.
const helpCache = new Map();
function helpOf(bin, ...args) {
  const key = [bin, ...args].join(' ');
  if (!helpCache.has(key)) {
    try {
      helpCache.set(
        key,
        execFileSync(process.execPath, [join(root, 'node_modules', '.bin', bin), ...args, '--help'], {
          cwd: root,
          encoding: 'utf8',
          stdio: 'pipe',
        }),
      );
    } catch (error) {
      helpCache.set(key, `${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  }
  return helpCache.get(key);
}

function checkMentions() {
  const start = performance.now();
  const all = markdownFiles().flatMap((file) => [...shellCommands(file), ...inlineCode(file)].flatMap(mentions));
  section(
    `every \`distillery <command> --flag examples/…\`, \`npm run <script>\` and \`node <file>\` named in ${markdownFiles().length} markdown files: ${all.length} mentions`,
  );
  if (listOnly) {
    for (const { file, line, bin, command, flags } of all) console.log(`  ${file}:${line}: ${bin} ${command} ${flags.join(' ')}`);
    return;
  }
  const commandList = helpOf('distillery');
  const suiteList = helpOf('distillery-bench');
  const listed = (list, name) => new RegExp(`^  ${name}\\s`, 'm').test(list);
  const problems = [];
  const tracked = new Set(trackedFiles());
  for (const { file, line, bin, command, flags, files, text } of all) {
    for (const path of files)
      if (!tracked.has(path)) problems.push(`${file}:${line}: ${path} is no file of the repository (in \`${text}\`)`);
    let help;
    if (bin === 'distillery') help = listed(commandList, command) ? helpOf(bin, command) : null;
    else if (command === 'compare') help = helpOf(bin, 'compare');
    else help = listed(suiteList, command) || command === 'all' ? suiteList : null; // one --help for every suite
    if (help === null) {
      problems.push(
        `${file}:${line}: \`${bin} ${command}\` is no ${bin === 'distillery' ? 'command' : 'suite'} of ${bin} --help (in \`${text}\`)`,
      );
      continue;
    }
    for (const flag of flags) {
      if (!new RegExp(`${flag}(?![a-z0-9-])`).test(help))
        problems.push(`${file}:${line}: \`${bin} ${command}\` has no ${flag} in its --help (in \`${text}\`)`);
    }
  }
  problems.push(...scriptProblems());
  if (problems.length) {
    failed++;
    console.log(`FAIL ${seconds(start)} ${problems.length} unknown commands, flags, files or scripts:\n  ${problems.join('\n  ')}`);
  } else console.log(`ok   ${seconds(start)} every command exists, every flag is in its --help, every named file and npm script exists`);
}

/**
 * `npm run <script>` names a script of the root package.json, or of a folder the doc `cd`s into (or
 * its own folder); `node <file>.js` names a file of the checkout (dist/ files: built by setup).
 */
function scriptProblems() {
  const scriptsOf = (dir) => {
    const file = join(root, dir, 'package.json');
    return existsSync(file) ? Object.keys(JSON.parse(readFileSync(file, 'utf8')).scripts ?? {}) : [];
  };
  const problems = [];
  for (const file of markdownFiles()) {
    const snippets = [...shellCommands(file), ...inlineCode(file)];
    const dirs = ['.', dirname(file), ...snippets.flatMap(({ text }) => [...text.matchAll(/(?:^|&&\s*)cd ([\w./-]+)/g)].map((m) => m[1]))];
    const scripts = new Set(dirs.flatMap(scriptsOf));
    for (const { line, text } of snippets) {
      for (const [, name] of text.matchAll(/\bnpm run ([a-z][\w:-]*)/g))
        if (!scripts.has(name)) problems.push(`${file}:${line}: \`npm run ${name}\` is no script of ${dirs.join(', ')} (in \`${text}\`)`);
      for (const [, path] of text.matchAll(/(?:^|\s)node ((?:[\w.-]+\/)+[\w.-]+\.m?js)\b/g))
        if (!existsSync(join(root, path))) problems.push(`${file}:${line}: ${path} does not exist (in \`${text}\`)`);
    }
  }
  return problems;
}

const total = performance.now();
if (!mentionsOnly) for (const file of RUN_DOCS) runDoc(file);
checkMentions();
console.log(`\n${failed ? 'FAIL' : 'ok  '} ${seconds(total)} in all`);
process.exit(failed ? 1 : 0);
