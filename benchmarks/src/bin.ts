#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, runSuites } from './runner.js';
import { saveResults } from './results-io.js';
import { parseByteSize } from './fit.js';
import { suites } from './suites/index.js';
import type { SuiteFailure } from './suite.js';
import { BROWSER_SUITE_NAMES, runSuitesInChromium } from './browser/browser-run.js';

const usage = `Usage: distillery-bench <suite|all> [--json] [--quick] [--save [dir]] [--browser] [--<option> value ...]
       distillery-bench compare --base <rev> --suites a,b [--rounds N] [-- <suite options>]   (compare --help)

Suites:
${suites.map((s) => `  ${s.name.padEnd(14)} ${s.description}`).join('\n')}

  --json    print one JSON document (schema 1) instead of a table
  --quick   smaller shapes and fewer repetitions
  --save    merge the results into benchmarks/results/<adapter>.json (or the given dir)
  --browser run the GPU suites (${BROWSER_SUITE_NAMES.join(', ')}) inside headless Chromium, on the browser's adapter

Suite options:
  --rows 64,1024 --vocab 32000 --dtype f32     kd-loss, softmax: the sweep
  --sizes 1024,2048 --linear-rows 512 --runs N  train: matmul sizes, fused-linear-kd rows, repetitions
  --python PATH                                 a Python with torch for the PyTorch rows (default python3, /usr/bin/python3)
  --torch-preload LIB[,LIB]                     extra PyTorch rows with LD_PRELOAD=LIB (jemalloc, OpenBLAS)
  --no-torch                                    no PyTorch rows
  --max-gpu-bytes 8GB|none                      GPU suites: skip a case whose buffers total more (default on a CPU
                                                adapter: a third of host memory; none on a GPU)

A suite that throws is recorded (failures in the JSON) and the run goes on; the cases it finished before
are kept, and --save still saves what was measured, then the exit code is 1. A case that does not fit the device is a row marked skipped.`;

const KNOWN = new Set(['json', 'quick', 'save', 'results-dir', 'browser', 'help', 'h']);

/** Splits off suite options (`--rows 64` or `--rows=64`, any name the runner does not know itself). */
function splitSuiteOptions(argv: string[]): { runnerArgs: string[]; options: Record<string, string> } {
  const runnerArgs: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (!match || KNOWN.has(match[1]!)) {
      runnerArgs.push(arg);
      if (match?.[1] === 'results-dir' && match[2] === undefined && i + 1 < argv.length) runnerArgs.push(argv[++i]!);
      continue;
    }
    const next = argv[i + 1];
    if (match[2] !== undefined) options[match[1]!] = match[2];
    else if (next !== undefined && !next.startsWith('--')) options[match[1]!] = argv[++i]!;
    else options[match[1]!] = 'true';
  }
  return { runnerArgs, options };
}

if (process.argv[2] === 'compare') {
  const { compareMain } = await import('./compare/cli.js');
  try {
    await compareMain(process.argv.slice(3));
  } catch (error) {
    console.error(`distillery-bench compare: ${(error as Error).message}`);
    process.exit(2);
  }
  process.exit(0);
}

const { runnerArgs, options } = splitSuiteOptions(process.argv.slice(2));
const { values, positionals } = parseArgs({
  args: runnerArgs,
  options: {
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
    save: { type: 'boolean' },
    browser: { type: 'boolean' },
    'results-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
  strict: true,
});

const names = positionals.filter((p) => !p.startsWith('-'));
if (values.help || names.length === 0) {
  console.log(usage);
  process.exit(values.help ? 0 : 1);
}
const chosen = names.includes('all') ? suites : names.map((n) => suites.find((s) => s.name === n));
const unknown = names.filter((n, i) => n !== 'all' && !chosen[i]);
if (unknown.length) {
  console.error(`distillery-bench: unknown suite(s) ${unknown.join(', ')}. Known: ${suites.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const json = Boolean(values.json);
const log = (line: string) => (json ? process.stderr.write(`${line}\n`) : console.log(line));
const picked = chosen.filter((s) => s !== undefined);
if (values.browser) {
  const notInBrowser = picked.filter((s) => !BROWSER_SUITE_NAMES.includes(s.name));
  if (notInBrowser.length && !names.includes('all')) {
    console.error(
      `distillery-bench: --browser runs the GPU suites only (${BROWSER_SUITE_NAMES.join(', ')}), not ${notInBrowser.map((s) => s.name).join(', ')}`,
    );
    process.exit(2);
  }
}
if (options['max-gpu-bytes'] !== undefined) {
  try {
    parseByteSize(options['max-gpu-bytes']);
  } catch (error) {
    console.error(`distillery-bench: ${(error as Error).message}`);
    process.exit(2);
  }
}
const saveDir = values.save
  ? resolve(typeof values['results-dir'] === 'string' ? values['results-dir'] : new URL('../results', import.meta.url).pathname)
  : undefined;
const doc = values.browser
  ? await runSuitesInChromium(
      picked.map((s) => s.name).filter((n) => BROWSER_SUITE_NAMES.includes(n)),
      { quick: Boolean(values.quick), options, log },
    )
  : await runSuites(picked, {
      quick: Boolean(values.quick),
      options,
      log,
      // With --save, every finished suite is on disk before the next starts.
      ...(saveDir ? { checkpoint: async (soFar) => void log(`saved so far: ${await saveResults(saveDir, soFar)}`) } : {}),
    });
if (json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
else console.log(`\n${formatTable(doc)}`);
if (saveDir) log(`saved ${await saveResults(saveDir, doc)}`);
/** `kd-loss (E_DEVICE_LOST, 2 results kept)`: the suite, its error code and the results it finished before. */
function describeFailure(f: SuiteFailure): string {
  const notes = [f.code, f.kept ? `${f.kept} result${f.kept === 1 ? '' : 's'} kept` : undefined].filter(Boolean);
  return `${f.suite}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}
if (doc.failures?.length) {
  console.error(`distillery-bench: ${doc.failures.length} suite(s) failed: ${doc.failures.map(describeFailure).join(', ')}`);
  process.exit(1);
}
process.exit(0);
