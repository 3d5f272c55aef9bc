import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DistilleryError } from '@distillery/core';
import { comparisonPath, resultFileName, writeAtomic } from '../results-io.js';
import { parseSuiteArgs } from './options.js';
import { comparisonFileName, renderComparison, type RevisionComparison } from './report.js';
import { buildRevision, describeCheckout, describeRevision, requireBuilt } from './revision.js';
import { compareRevisions } from './run.js';
import { suites as knownSuites } from '../suites/index.js';

export const compareUsage = `Usage: distillery-bench compare --base <rev> --suites a,b [options] [-- <suite options for every suite>]

Runs the suites of two revisions on this machine's adapter in alternation (base, head, head, base, ...),
pairs the cases both measured and saves benchmarks/results/compare/<adapter>.<base>-<head>.json
(<adapter>.<base>-<head>.<start time>.json when an earlier run of the same commits saved there;
npm run bench:render puts its table in docs/benchmarks.md).

  --base REV            the revision to compare against: a git worktree of it is built under --cache-dir
  --base-dir DIR        use this built checkout as the base instead (its HEAD names it)
  --head-dir DIR        the built checkout to compare (default: this one)
  --suites a,b          suites to run (kd-loss,softmax,train)
  --rounds N            alternating rounds (default 3)
  --tolerance X         head/base within 1 ± X is noise (default 0.1)
  --suite-args S=OPTS   options for one suite only, e.g. 'train=--quick --sizes 1024' (repeatable)
  --no-tfjs             both sides run without the suites' tfjs-webgpu baselines (their @tensorflow imports fail)
  --cache-dir DIR       where base checkouts are built and kept, one per commit (default <tmp>/distillery-bench-revs)
  --results-dir DIR     where the comparison is saved (default benchmarks/results/compare)
  -h, --help            this text

Options a revision's suites do not read (a newer suite's --no-torch, say) are left out for that
revision and named in the result.`;

const thisCheckout = new URL('../..', import.meta.url).pathname;

export async function compareMain(argv: string[]): Promise<void> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const commonArgs = dash < 0 ? [] : argv.slice(dash + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: own,
      options: {
        base: { type: 'string' },
        'base-dir': { type: 'string' },
        'head-dir': { type: 'string' },
        suites: { type: 'string' },
        rounds: { type: 'string', default: '3' },
        tolerance: { type: 'string', default: '0.1' },
        'suite-args': { type: 'string', multiple: true, default: [] },
        'no-tfjs': { type: 'boolean' },
        'cache-dir': { type: 'string', default: join(tmpdir(), 'distillery-bench-revs') },
        'results-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new DistilleryError('E_BAD_CONFIG', `distillery-bench compare: ${(error as Error).message}`, { field: 'argv' });
  }
  if (values.help) {
    console.log(compareUsage);
    return;
  }
  if (!values.suites) throw new DistilleryError('E_BAD_VALUE', '--suites is required (e.g. kd-loss,softmax,train)', { field: '--suites' });
  if (!values.base && !values['base-dir'])
    throw new DistilleryError('E_BAD_VALUE', '--base REV or --base-dir DIR is required', { field: '--base' });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new DistilleryError('E_BAD_VALUE', `--rounds must be an integer ≥ 1, got ${values.rounds}`, {
      field: '--rounds',
      value: values.rounds,
    });
  const tolerance = Number(values.tolerance);
  if (!(tolerance >= 0))
    throw new DistilleryError('E_BAD_VALUE', `--tolerance must be a number ≥ 0, got ${values.tolerance}`, {
      field: '--tolerance',
      value: values.tolerance,
    });
  const suites = values.suites
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // Checked before a base checkout is built: an unknown name would otherwise cost an install and measure nothing.
  const known = knownSuites.map((s) => s.name);
  for (const suite of suites)
    if (!known.includes(suite))
      throw new DistilleryError('E_BAD_VALUE', `--suites names ${suite}, which is not a suite (known: ${known.join(', ')})`, {
        field: '--suites',
        value: suite,
      });
  const suiteArgs: Record<string, string[]> = {};
  for (const spec of values['suite-args']) {
    const [suite, tokens] = parseSuiteArgs(spec);
    if (!suites.includes(suite))
      throw new DistilleryError('E_BAD_VALUE', `--suite-args names ${suite}, which is not in --suites ${suites.join(',')}`, {
        field: '--suite-args',
        value: spec,
      });
    suiteArgs[suite] = [...(suiteArgs[suite] ?? []), ...tokens];
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const headDir = resolve(values['head-dir'] ?? thisCheckout);
  await requireBuilt(headDir, '--head-dir');
  const head = { dir: headDir, info: await describeCheckout(headDir) };
  let base;
  if (values['base-dir']) {
    const dir = resolve(values['base-dir']);
    await requireBuilt(dir, '--base-dir');
    base = { dir, info: await describeCheckout(dir, values.base ?? 'HEAD') };
  } else {
    const info = await describeRevision(headDir, values.base!);
    const cacheDir = resolve(values['cache-dir']);
    await mkdir(cacheDir, { recursive: true });
    base = { dir: await buildRevision(headDir, info.commit, cacheDir, log), info };
  }
  log(`base ${base.info.commit.slice(0, 7)} (${base.info.subject}) in ${base.dir}`);
  log(`head ${head.info.commit.slice(0, 7)}${head.info.dirty ? ' + uncommitted changes' : ''} (${head.info.subject}) in ${head.dir}`);

  const resultsDir = resolve(values['results-dir'] ?? join(thisCheckout, 'benchmarks', 'results', 'compare'));
  let path: string | undefined;
  const save = async (cmp: RevisionComparison) => {
    if (!cmp.adapter && cmp.cases.length === 0) return;
    const slug = resultFileName({ adapter: cmp.adapter } as Parameters<typeof resultFileName>[0]).replace(/\.json$/, '');
    // Chosen at the first save: later rounds of this run rewrite the same file.
    path ??= await comparisonPath(resultsDir, comparisonFileName(slug, cmp), cmp);
    await writeAtomic(path, `${JSON.stringify(cmp, null, 2)}\n`);
    log(`saved ${path} (${cmp.rounds} of ${rounds} rounds)`);
  };
  const comparison = await compareRevisions({
    base,
    head,
    suites,
    rounds,
    tolerance,
    commonArgs,
    suiteArgs,
    noTfjs: Boolean(values['no-tfjs']),
    log,
    onRound: save,
  });
  console.log(renderComparison(comparison));
  if (!path) log('nothing measured: no result saved');
}
