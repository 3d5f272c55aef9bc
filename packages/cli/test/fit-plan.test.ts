import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/index.js';
import { captureIO } from './capture-io.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const RUNS = 'examples/scaling/synthetic-runs.csv';
const DISTILLATION_RUNS = 'examples/scaling/synthetic-distillation-runs.csv';
const COLUMNS = 'params=n_params,tokens=train_tokens,loss=val_loss';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distillery-fit-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('distillery fit', () => {
  it('fits the shipped synthetic runs, writes the fit and the plot atomically', async () => {
    const io = captureIO({ cwd: REPO });
    const code = await runCli(
      ['fit', RUNS, '--columns', COLUMNS, '--bootstrap', '30', '--out', join(dir, 'fit.json'), '--plot', join(dir, 'fit.svg')],
      io,
    );
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(io.out).toContain('Supervised law, busbridge form');
    expect(io.out).toContain('fitted to 54 runs');
    expect(io.out).toMatch(/Verdict: /);
    const fit = JSON.parse(await readFile(join(dir, 'fit.json'), 'utf8')) as {
      kind: string;
      law: { E: number; alpha: number };
      runs: number;
    };
    expect(fit.kind).toBe('supervised');
    expect(fit.runs).toBe(54);
    // The runs come from Busbridge's law (E = 1.22, alpha = 0.408) with 0.5 % noise.
    expect(Math.abs(fit.law.E / 1.22 - 1)).toBeLessThan(0.1);
    expect(Math.abs(fit.law.alpha - 0.408)).toBeLessThan(0.1);
    expect((await readFile(join(dir, 'fit.svg'), 'utf8')).startsWith('<svg')).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('fits the distillation law on top of a stage-one law and prints JSON', async () => {
    const io = captureIO({ cwd: REPO });
    const code = await runCli(
      ['fit', DISTILLATION_RUNS, '--law', 'distillation', '--supervised', 'busbridge', '--starts', '16', '--bootstrap', '8', '--json'],
      io,
    );
    expect(code).toBe(0);
    const fit = JSON.parse(io.out) as { kind: string; runs: number; parameters: { name: string }[]; supervisedLaw: { E: number } };
    expect(fit.kind).toBe('distillation');
    expect(fit.runs).toBe(140);
    expect(fit.parameters.map((p) => p.name)).toEqual(['A', 'B', 'alpha', 'beta', 'gamma', 'c0', 'c1', 'f1', 'd1']);
    expect(fit.supervisedLaw.E).toBe(1.22);
  });

  it('--strict exits 3 when the fit cannot be trusted, and says why', async () => {
    const path = join(dir, 'few.csv');
    await writeFile(path, 'N,D,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.75\n8e8,1.6e10,2.6\n1.6e9,3.2e10,2.5\n3.2e9,6.4e10,2.41\n');
    const io = captureIO({ cwd: dir });
    expect(await runCli(['fit', 'few.csv', '--strict', '--bootstrap', '20'], io)).toBe(3);
    expect(io.out).toContain('NOT TRUSTWORTHY');
    expect(io.out).toContain('[few-runs]');
  });

  it('names the row and column of a bad value, and a missing column', async () => {
    const path = join(dir, 'bad.csv');
    await writeFile(path, 'N,D,loss\n1e8,2e9,3.1\n2e8,-4e9,2.9\n');
    const bad = captureIO({ cwd: dir });
    expect(await runCli(['fit', 'bad.csv'], bad)).toBe(2);
    expect(bad.err).toContain('E_BAD_INPUT');
    expect(bad.err).toContain('row 2 (line 3), column "D"');
    const missing = captureIO({ cwd: REPO });
    expect(await runCli(['fit', RUNS, '--columns', 'params=n_params,tokens=train_tokens,loss=eval_loss'], missing)).toBe(2);
    expect(missing.err).toContain('column "eval_loss"');
    const absent = captureIO({ cwd: REPO });
    expect(await runCli(['fit', 'no/such/runs.csv'], absent)).toBe(2);
    expect(absent.err).toContain('E_NOT_FOUND');
  });
});

describe('distillery plan', () => {
  it('plans every scenario with the published laws and finds crossovers', async () => {
    const io = captureIO({ cwd: REPO });
    const code = await runCli(
      [
        'plan',
        '--student',
        '1B',
        '--budget',
        '1e21',
        '--crossover',
        '--plot',
        join(dir, 'frontier.svg'),
        '--sweep-plot',
        join(dir, 'sweep.svg'),
      ],
      io,
    );
    expect(io.err).toBe('');
    expect(code).toBe(0);
    for (const scenario of ['free', 'inference', 'pretraining', 'both']) expect(io.out).toMatch(new RegExp(`^${scenario} `, 'm'));
    expect(io.out).toContain('Supervised baseline: the same student on 167B tokens');
    expect(io.out).toContain('compute-optimal supervised model at this budget: N 3.05B');
    expect(io.out).toMatch(/free\s+distillation wins below/);
    expect((await readFile(join(dir, 'frontier.svg'), 'utf8')).startsWith('<svg')).toBe(true);
    expect((await readFile(join(dir, 'sweep.svg'), 'utf8')).startsWith('<svg')).toBe(true);
  });

  it('uses a fit written by distillery fit, and prints JSON', async () => {
    const fitted = captureIO({ cwd: REPO });
    expect(await runCli(['fit', RUNS, '--columns', COLUMNS, '--bootstrap', '0', '--out', join(dir, 'laws.json')], fitted)).toBe(0);
    const io = captureIO({ cwd: REPO });
    expect(
      await runCli(['plan', '--student', '300M', '--budget', '3e20', '--scenario', 'free', '--laws', join(dir, 'laws.json'), '--json'], io),
    ).toBe(0);
    const result = JSON.parse(io.out) as { plans: { scenario: string; feasible: boolean; compute: { total: number } }[] };
    expect(result.plans).toHaveLength(1);
    expect(result.plans[0]!.scenario).toBe('free');
    expect(result.plans[0]!.compute.total / 3e20).toBeCloseTo(1, 9);
  });

  it('rejects a bad budget or scenario by name', async () => {
    const io = captureIO({ cwd: REPO });
    expect(await runCli(['plan', '--student', '1B', '--budget', 'lots'], io)).toBe(2);
    expect(io.err).toContain('--budget must be');
    const scenario = captureIO({ cwd: REPO });
    expect(await runCli(['plan', '--student', '1B', '--budget', '1e21', '--scenario', 'cheap'], scenario)).toBe(2);
    expect(scenario.err).toContain('--scenario');
  });
});
