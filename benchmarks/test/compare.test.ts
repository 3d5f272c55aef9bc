import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import {
  caseKey,
  comparisonFileName,
  comparisonPath,
  loadComparisons,
  optionsFor,
  optionsReadBy,
  pairRounds,
  parseOptionTokens,
  parseSuiteArgs,
  renderComparison,
  renderMarkdown,
  verdictOf,
  type BenchDocument,
  type BenchResult,
  type RevisionComparison,
} from '../src/index.js';
import { compareMain } from '../src/compare/cli.js';

const adapter = { vendor: 'acme', architecture: 'rdna9', device: 'x', description: 'Acme X', backend: 'dawn-node' };

const result = (name: string, params: BenchResult['params'], median: number, wallMs?: number): BenchResult => ({
  suite: 'kd-loss',
  name,
  params,
  ms: { median, min: median, max: median, runs: 5 },
  ...(wallMs !== undefined ? { metrics: { wallMs } } : {}),
});

const doc = (...results: BenchResult[]): BenchDocument => ({
  schema: 1,
  adapter,
  host: { os: 'linux', cpu: 'cpu', cores: 2, node: 'v20' },
  date: '2026-01-01T00:00:00.000Z',
  results,
});

describe('pairing two revisions', () => {
  it('keys a case by suite, name and identifying params, whatever their order and the implementation params', () => {
    const a = caseKey(result('fused', { rows: 64, vocab: 32000, roofline: 'copy' }, 1));
    const b = caseKey(result('fused', { vocab: 32000, kernel: 'register-tiled', rows: 64 }, 1));
    expect(a).toBe(b);
    expect(caseKey(result('fused', { rows: 1024, vocab: 32000 }, 1))).not.toBe(a);
    expect(caseKey({ ...result('fused', { rows: 64, vocab: 32000 }, 1), suite: 'softmax' })).not.toBe(a);
  });

  it('pairs the cases both sides measured: medians over rounds, head/base ratios per round, the rest listed', () => {
    const rounds = [
      {
        base: doc(result('fused', { rows: 64 }, 10, 12), result('old-only', { rows: 1 }, 5)),
        head: doc(result('fused', { rows: 64, kernel: 'k2' }, 6, 9), result('new-only', {}, 1)),
      },
      { base: doc(result('fused', { rows: 64 }, 14, 16)), head: doc(result('fused', { rows: 64, kernel: 'k2' }, 7, 8)) },
      { base: doc(result('fused', { rows: 64 }, 12, 14)), head: doc(result('fused', { rows: 64, kernel: 'k2' }, 9, 7)) },
    ];
    const { cases, unpaired } = pairRounds(rounds, { tolerance: 0.1 });
    expect(unpaired).toEqual({ base: ['kd-loss old-only (rows=1)'], head: ['kd-loss new-only'] });
    expect(cases).toHaveLength(1);
    const [c] = cases;
    expect(c!.params).toEqual({ rows: 64 });
    expect(c!.base).toEqual({ roundMedians: [10, 14, 12], median: 12, min: 10 });
    expect(c!.head).toMatchObject({ roundMedians: [6, 7, 9], median: 7, min: 6, implementation: { kernel: 'k2' } });
    expect(c!.ratio).toBeCloseTo(7 / 12, 12);
    expect(c!.roundRatios.map((r) => +r.toFixed(4))).toEqual([0.6, 0.5, 0.75]);
    expect(c!.verdict).toBe('faster');
    expect(c!.wall!.base).toBe(14);
    expect(c!.wall!.head).toBe(8);
    expect(c!.wall!.roundRatios.map((r) => +r.toFixed(4))).toEqual([0.75, 0.5, 0.5]);
  });

  it('pairs round by round: a round one side failed in gives no ratio', () => {
    const rounds = [
      { base: doc(result('fused', {}, 10)), head: doc(result('fused', {}, 20)) },
      { base: doc(result('fused', {}, 10)) },
      { base: doc(result('fused', {}, 10)), head: doc(result('fused', {}, 22)) },
    ];
    const [c] = pairRounds(rounds).cases;
    expect(c!.roundRatios).toEqual([2, 2.2]);
    expect(c!.head.median).toBe(21);
    expect(c!.verdict).toBe('slower');
  });

  it('calls a case slower or faster only beyond the tolerance and when every round agrees', () => {
    const rule = { tolerance: 0.1 };
    expect(verdictOf(1.3, [1.2, 1.4, 1.3], rule)).toBe('slower');
    expect(verdictOf(1.3, [1.2, 0.95, 1.3], rule)).toBe('within noise');
    expect(verdictOf(1.08, [1.05, 1.08, 1.1], rule)).toBe('within noise');
    expect(verdictOf(0.5, [0.4, 0.5, 0.6], rule)).toBe('faster');
    expect(verdictOf(0.95, [0.9, 0.95, 0.97], rule)).toBe('within noise');
    expect(verdictOf(2, [], rule)).toBe('within noise');
  });
});

describe('options per revision', () => {
  it('finds the suite options a revision reads in its sources', () => {
    const read = optionsReadBy([
      "const rows = numberList(ctx.options.rows, [64]);\nif (options['no-torch']) return;",
      "const sizes = ctx.options?.sizes; const r = options?.['linear-rows'];",
    ]);
    expect([...read].sort()).toEqual(['linear-rows', 'no-torch', 'rows', 'sizes']);
  });

  it('splits tokens the way distillery-bench does and keeps only what a revision reads (runner flags always)', () => {
    const args = parseOptionTokens(['--rows', '64,1024', '--no-torch', '--quick', '--vocab=32000', '--runs', '3']);
    expect(args.map((a) => a.tokens)).toEqual([['--rows', '64,1024'], ['--no-torch'], ['--quick'], ['--vocab=32000'], ['--runs', '3']]);
    expect(optionsFor(args, new Set(['rows', 'vocab']))).toEqual({
      passed: ['--rows', '64,1024', '--quick', '--vocab=32000'],
      ignored: ['--no-torch', '--runs'],
    });
  });

  it('rejects what is not an option, and malformed --suite-args, with typed errors naming them', () => {
    expect(() => parseOptionTokens(['rows'])).toThrow(/--name value.*"rows"/);
    expect(parseSuiteArgs('train=--quick  --sizes 1024')).toEqual(['train', ['--quick', '--sizes', '1024']]);
    let caught: unknown;
    try {
      parseSuiteArgs('--quick');
    } catch (error) {
      caught = error;
    }
    expect(isDistilleryError(caught, 'E_BAD_VALUE') && caught.details.field === '--suite-args').toBe(true);
  });
});

function comparison(): RevisionComparison {
  const { cases, unpaired } = pairRounds([
    {
      base: doc(result('fused', { rows: 1024 }, 100, 120), result('gone', {}, 1)),
      head: doc(result('fused', { rows: 1024 }, 40, 60)),
    },
    { base: doc(result('fused', { rows: 1024 }, 110, 130)), head: doc(result('fused', { rows: 1024 }, 50, 70)) },
  ]);
  const slower = pairRounds([
    { base: doc(result('soft', {}, 10)), head: doc(result('soft', {}, 15)) },
    { base: doc(result('soft', {}, 10)), head: doc(result('soft', {}, 14)) },
  ]).cases;
  return {
    kind: 'revision-comparison',
    schema: 1,
    date: '2026-01-01T00:00:00.000Z',
    finished: '2026-01-01T01:00:00.000Z',
    adapter,
    host: { os: 'linux', cpu: 'cpu', cores: 2, node: 'v20', loadAverage: { start: 20, end: 18, min: 15.5, max: 25 } },
    base: { rev: 'v1', commit: 'aaaaaaa1111', subject: 'old' },
    head: { rev: 'HEAD', commit: 'bbbbbbb2222', subject: 'new', dirty: false },
    rounds: 2,
    order: 'base then head in odd rounds, head then base in even rounds',
    tolerance: 0.1,
    suites: [
      {
        name: 'kd-loss',
        base: { passed: ['--rows', '1024'], ignored: ['--no-torch'] },
        head: { passed: ['--rows', '1024', '--no-torch'], ignored: [] },
      },
    ],
    cases: [...cases, ...slower],
    unpaired,
    failures: [],
  };
}

describe('rendering a comparison', () => {
  it('names both commits, the load, the options each side ran with, and one row per case with its verdict', () => {
    const md = renderComparison(comparison(), 'Hand-written note.');
    expect(md).toContain('### `aaaaaaa` → `bbbbbbb` on acme rdna9 x: kd-loss');
    expect(md).toContain('load average 20.0 → 18.0 (15.5–25.0 across the runs)');
    expect(md).toContain('- kd-loss: base `--rows 1024`, head `--rows 1024 --no-torch`; base does not read `--no-torch`');
    expect(md).toContain('| kd-loss | fused | rows=1024 | 105 | 45.0 | 0.43 | 2.33× | 0.40, 0.45 | faster | 125 → 65.0 (0.52) |');
    expect(md).toContain('| kd-loss | soft |  | 10.0 | 14.5 | 1.45 | 0.69× | 1.50, 1.40 | **slower** |  |');
    expect(md).toContain('Slower beyond noise: kd-loss soft (1.45×).');
    expect(md).toContain('Not compared (measured by one side only): base: kd-loss gone.');
    expect(md.trimEnd().endsWith('Hand-written note.')).toBe(true);
  });

  it('is saved per adapter and commit pair, loaded from results/compare and rendered after the adapters', async () => {
    const cmp = comparison();
    const name = comparisonFileName('acme-rdna9', cmp);
    expect(name).toBe('acme-rdna9.aaaaaaa-bbbbbbb.json');
    const dir = await mkdtemp(join(tmpdir(), 'bench-compare-'));
    await mkdir(join(dir, 'compare'));
    await writeFile(join(dir, 'compare', name), JSON.stringify(cmp));
    await writeFile(join(dir, 'compare', name.replace(/\.json$/, '.notes.md')), 'Why it was run.\n');
    const loaded = await loadComparisons(dir);
    expect(loaded).toEqual([{ comparison: cmp, notes: 'Why it was run.\n' }]);
    const page = renderMarkdown([doc(result('fused', { rows: 64 }, 3))], [], loaded);
    const adapters = page.indexOf('## acme rdna9 x');
    const section = page.indexOf('## Revision comparisons');
    expect(adapters).toBeGreaterThan(0);
    expect(section).toBeGreaterThan(adapters);
    expect(page.indexOf('### `aaaaaaa` → `bbbbbbb`')).toBeGreaterThan(section);
    expect(page).toContain('Why it was run.');
    expect(renderMarkdown([doc(result('fused', { rows: 64 }, 3))])).not.toContain('Revision comparisons');
  });

  it("never overwrites an earlier run's comparison of the same commits; its own later rounds reuse its file", async () => {
    const cmp = comparison();
    const name = comparisonFileName('acme-rdna9', cmp);
    const dir = await mkdtemp(join(tmpdir(), 'bench-compare-'));
    expect(await comparisonPath(dir, name, cmp)).toBe(join(dir, name));
    await writeFile(join(dir, name), JSON.stringify(cmp));
    expect(await comparisonPath(dir, name, cmp)).toBe(join(dir, name));
    const later = { ...cmp, date: '2026-12-07T18:12:38.595Z' };
    expect(await comparisonPath(dir, name, later)).toBe(join(dir, 'acme-rdna9.aaaaaaa-bbbbbbb.2026-12-07T18-12-38-595Z.json'));
  });

  it('names an unknown suite before building anything', async () => {
    const caught = await compareMain(['--base', 'HEAD', '--suites', 'kd-loss,kd-los']).catch((e: unknown) => e);
    expect(isDistilleryError(caught, 'E_BAD_VALUE')).toBe(true);
    expect((caught as { details: { field: string; value: string } }).details).toMatchObject({ field: '--suites', value: 'kd-los' });
    expect((caught as Error).message).toContain('known: bandwidth');
  });
});
