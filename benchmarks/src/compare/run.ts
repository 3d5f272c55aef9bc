import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DistilleryError } from '@distillery/core';
import type { BenchDocument } from '../suite.js';
import { optionsFor, optionsReadBy, parseOptionTokens, type OptionsForRevision } from './options.js';
import { pairRounds, type Side } from './pairing.js';
import type { RevisionComparison, RevisionInfo } from './report.js';
import { benchmarkSources } from './revision.js';

export interface BuiltRevision {
  info: RevisionInfo;
  /** Repository root of a built checkout (`benchmarks/dist/bin.js` inside). */
  dir: string;
}

export interface CompareOptions {
  base: BuiltRevision;
  head: BuiltRevision;
  suites: string[];
  rounds: number;
  tolerance: number;
  /** Options for every suite, then per suite (both as command-line tokens). */
  commonArgs: string[];
  suiteArgs: Record<string, string[]>;
  log: (line: string) => void;
  /**
   * Runs both sides with every `@tensorflow/*` import failing, so that the suites skip their
   * tfjs-webgpu baselines (which they report and survive): on a CPU adapter those take most of a
   * suite's time and are no part of a revision comparison.
   */
  noTfjs?: boolean;
  /** Called with the comparison so far after every round (to save it as it grows). */
  onRound?: (comparison: RevisionComparison) => Promise<void>;
}

/** A module for `node --import` that makes every `@tensorflow/*` import fail. */
const NO_TFJS_HOOK = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@tensorflow/')) throw new Error('tfjs is off in this comparison (distillery-bench compare --no-tfjs)');
  return next(specifier, context);
}\`));
`;

/** The suite run in progress, stopped with the comparison (a signal must not leave it running). */
let running: ReturnType<typeof spawn> | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    running?.kill('SIGTERM');
    process.exit(130);
  });

const ORDER = 'base then head in odd rounds, head then base in even rounds; each suite in its own process per side and round';

/** Runs one suite of one checkout in a child process and reads the document it saved. */
async function runSuite(
  dir: string,
  suite: string,
  args: string[],
  nodeFlags: string[],
  log: (line: string) => void,
  tag: string,
): Promise<BenchDocument> {
  const out = await mkdtemp(join(tmpdir(), 'distillery-bench-compare-'));
  try {
    const argv = [...nodeFlags, join(dir, 'benchmarks', 'dist', 'bin.js'), suite, '--json', '--save', '--results-dir', out, ...args];
    await new Promise<void>((resolve, reject) => {
      // stdout (the JSON document) is not read: the saved file is the same document without any stray output.
      const child = spawn(process.execPath, argv, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      running = child;
      let tail = '';
      let partial = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        tail = (tail + chunk).slice(-4000);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) log(`[${tag}] ${line}`);
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        running = undefined;
        if (partial) log(`[${tag}] ${partial}`);
        if (code === 0) resolve();
        else reject(new Error(`exited with ${code ?? signal}: ${tail.trim().split('\n').slice(-3).join(' / ')}`));
      });
    });
    const files = (await readdir(out)).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one saved result file in ${out}, found ${files.length}`);
    return JSON.parse(await readFile(join(out, files[0]!), 'utf8')) as BenchDocument;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function mergeInto(target: BenchDocument | undefined, doc: BenchDocument): BenchDocument {
  return target ? { ...target, results: [...target.results, ...doc.results] } : doc;
}

/**
 * Runs the suites of two built checkouts in alternation, round after round, on this machine's
 * adapter, and pairs their cases. Both sides get the same options, less those a side's suites do
 * not read (named in the result).
 */
export async function compareRevisions(options: CompareOptions): Promise<RevisionComparison> {
  const { base, head, suites, rounds, tolerance, log } = options;
  const reads = { base: optionsReadBy(await benchmarkSources(base.dir)), head: optionsReadBy(await benchmarkSources(head.dir)) };
  const suiteOptions = suites.map((name) => {
    const args = parseOptionTokens([...options.commonArgs, ...(options.suiteArgs[name] ?? [])]);
    const perSide = { base: optionsFor(args, reads.base), head: optionsFor(args, reads.head) };
    const unread = perSide.base.ignored.filter((o) => perSide.head.ignored.includes(o));
    if (unread.length)
      throw new DistilleryError('E_BAD_VALUE', `${name}: neither revision's suites read ${unread.join(', ')}`, {
        field: 'suite options',
        value: unread,
        expected: 'options the suites read (--rows, --vocab, --dtype, --sizes...)',
      });
    return { name, ...perSide } satisfies { name: string } & Record<Side, OptionsForRevision>;
  });

  const nodeFlags: string[] = [];
  if (options.noTfjs) {
    const hookDir = await mkdtemp(join(tmpdir(), 'distillery-bench-no-tfjs-'));
    const hook = join(hookDir, 'no-tfjs.mjs');
    await writeFile(hook, NO_TFJS_HOOK);
    nodeFlags.push('--import', pathToFileURL(hook).href);
  }
  const date = new Date().toISOString();
  const loads: number[] = [];
  const docs: Array<{ base?: BenchDocument; head?: BenchDocument }> = [];
  const failures: string[] = [];
  let adapter: BenchDocument['adapter'] | undefined;
  const cpu = cpus();
  const build = (): RevisionComparison => {
    const pairing = pairRounds(docs, { tolerance });
    return {
      kind: 'revision-comparison',
      schema: 1,
      date,
      finished: new Date().toISOString(),
      adapter: adapter ?? null,
      host: {
        os: `${platform()} ${release()}`,
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        node: process.version,
        loadAverage: { start: loads[0]!, end: loads[loads.length - 1]!, min: Math.min(...loads), max: Math.max(...loads) },
      },
      base: base.info,
      head: head.info,
      rounds: docs.length,
      order: ORDER,
      tolerance,
      ...(options.noTfjs ? { baselinesOff: ['tfjs-webgpu'] } : {}),
      suites: suiteOptions,
      cases: pairing.cases,
      unpaired: pairing.unpaired,
      failures,
    };
  };

  for (let round = 0; round < rounds; round++) {
    docs.push({});
    const order: Side[] = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const suite of suiteOptions) {
      for (const side of order) {
        const tag = `round ${round + 1}/${rounds} ${side} ${suite.name}`;
        loads.push(loadavg()[0]!);
        log(
          `# ${tag} (${side === 'base' ? base.info.commit.slice(0, 7) : head.info.commit.slice(0, 7)}), load average ${loads.at(-1)!.toFixed(1)}`,
        );
        const revision = side === 'base' ? base : head;
        let doc: BenchDocument;
        try {
          doc = await runSuite(revision.dir, suite.name, suite[side].passed, nodeFlags, log, tag);
        } catch (error) {
          failures.push(`${tag}: ${(error as Error).message}`);
          log(`${tag} failed: ${(error as Error).message}`);
          continue;
        }
        if (adapter === undefined) adapter = doc.adapter;
        else if ((adapter?.description ?? null) !== (doc.adapter?.description ?? null))
          throw new DistilleryError(
            'E_UNSUPPORTED',
            `${tag} ran on "${doc.adapter?.description ?? 'no GPU'}", earlier runs on "${adapter?.description ?? 'no GPU'}": a comparison needs one adapter`,
            { field: 'adapter', value: doc.adapter?.description ?? null },
          );
        docs[round]![side] = mergeInto(docs[round]![side], doc);
      }
    }
    loads.push(loadavg()[0]!);
    await options.onRound?.(build());
  }
  return build();
}
