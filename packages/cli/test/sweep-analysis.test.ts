import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import { CHINCHILLA_APPROACH3, predictSupervisedLoss, type DistillationFit, type SupervisedFit } from '@distillery/scaling-laws';
import { runCli } from '../src/index.js';
import { fitSweep, makePredictions, measuredCrossovers } from '../src/sweep/analysis.js';
import { parseSweepConfig, readSweepConfig, type SweepSettings } from '../src/sweep/config.js';
import { embeddingParams, nonEmbeddingParams } from '../src/sweep/params.js';
import { checkRuns, fittableRuns, type SweepRun } from '../src/sweep/runs-file.js';
import { captureIO } from './capture-io.js';

const example = resolve(__dirname, '../../../examples/tinystories/sweep.json');
const STORIES_260K = { vocab: 512, width: 64, ffn: 172 };

function thrown(f: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    f();
  } catch (error) {
    if (isDistilleryError(error)) return { code: error.code, message: error.message, details: error.details as Record<string, unknown> };
    throw error;
  }
  throw new Error('expected a DistilleryError');
}

/**
 * Runs that follow known laws exactly (small deterministic wiggle): supervised = a Chinchilla-form
 * law scaled to these tiny models; distilled = teacher loss + a fraction of the supervised excess.
 */
function syntheticRuns(settings: SweepSettings, teacherLoss: number): SweepRun[] {
  const law = { E: 1.6, A: 40, B: 300, alpha: 0.35, beta: 0.4, gamma: 1 };
  const runs: SweepRun[] = [];
  let k = 0;
  for (const size of settings.base.students) {
    for (const steps of settings.sweep.steps) {
      const params = nonEmbeddingParams(size, STORIES_260K);
      const tokens = steps * 470;
      const scratch = predictSupervisedLoss(law, params, tokens) * (1 + 0.002 * Math.sin(++k));
      const kd = teacherLoss + 0.8 * (scratch - teacherLoss) * (1 + 0.002 * Math.cos(k));
      for (const [method, loss] of [
        ['scratch', scratch],
        ['kd', kd],
      ] as const) {
        runs.push({
          id: `${size.name}/${method}/steps-${steps}`,
          size: size.name,
          method,
          role: 'grid',
          steps,
          params,
          totalParams: params + embeddingParams(size, STORIES_260K),
          tokens,
          flops: 6 * params * tokens,
          loss,
          teacherLoss,
          agreement: 0.5,
          seconds: 1,
        });
      }
    }
  }
  return runs;
}

describe('sweep parameter counting', () => {
  it('counts stories260K itself: 227,264 non-embedding + 65,536 embedding and head = its 292,800 parameters', () => {
    const teacher = { name: 't', width: 64, layers: 5, heads: 8, kvHeads: 4, ffn: 172 };
    expect(nonEmbeddingParams(teacher, STORIES_260K)).toBe(227_264);
    expect(nonEmbeddingParams(teacher, STORIES_260K) + embeddingParams(teacher, STORIES_260K)).toBe(292_800);
  });

  it('spans a factor of more than 10 in N_S across the example grid', async () => {
    const s = await readSweepConfig(example);
    const sizes = s.base.students.map((x) => nonEmbeddingParams(x, STORIES_260K));
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(10);
    expect(nonEmbeddingParams(s.sweep.check.student, STORIES_260K)).toBeGreaterThan(Math.max(...sizes));
  });
});

describe('sweep config: bad input', () => {
  it('refuses a grid with fewer runs per method than the distillation law has coefficients, naming the field', async () => {
    const raw = JSON.parse(await readFile(example, 'utf8')) as { students: unknown[]; sweep: { steps: number[] } };
    raw.students = raw.students.slice(0, 2);
    raw.sweep.steps = [25, 50, 100, 200];
    const e = thrown(() => parseSweepConfig(raw, 'tiny.json'));
    expect(e.code).toBe('E_BAD_CONFIG');
    expect(e.message).toMatch(/2 student sizes × 4 token budgets = 8 runs per method, fewer than the 9 coefficients/);
    expect(e.details).toMatchObject({ field: 'sweep.steps', file: 'tiny.json' });
  });

  it('refuses a config without a sweep section, and bad sweep fields with their path', async () => {
    const raw = JSON.parse(await readFile(example, 'utf8')) as { sweep: Record<string, unknown> };
    const { sweep, ...rest } = raw;
    expect(thrown(() => parseSweepConfig(rest, 'a.json')).details).toMatchObject({ field: 'sweep' });
    const bad = thrown(() => parseSweepConfig({ ...rest, sweep: { ...sweep, steps: [10, -3] } }, 'b.json'));
    expect(bad.code).toBe('E_BAD_CONFIG');
    expect(String(bad.details.field)).toMatch(/^sweep\.steps/);
    expect(bad.message).toContain('b.json');
  });
});

describe('sweep runs: NaN losses and a teacher above its students', () => {
  it('names the runs with a non-finite loss, leaves them out, and errors when too few are left', async () => {
    const s = await readSweepConfig(example);
    const runs = syntheticRuns(s, 1.7);
    runs[1]!.loss = Number.NaN;
    runs[1]!.error = 'E_NON_FINITE: the training loss is NaN at step 7';
    const warnings = checkRuns(runs);
    expect(warnings.map((w) => w.code)).toEqual(['non-finite-loss']);
    expect(warnings[0]!.runs).toEqual([runs[1]!.id]);
    expect(warnings[0]!.message).toContain('step 7');
    expect(fittableRuns(runs, 'kd', 9)).toHaveLength(11);
    for (const r of runs.filter((x) => x.method === 'kd').slice(0, 4)) r.loss = Number.NaN;
    const e = thrown(() => fittableRuns(runs, 'kd', 9));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/8 kd runs with a finite loss cannot determine 9 coefficients \(left out: .*w16-l1\/kd\/steps-25/);
  });

  it('warns loudly, naming them, when students beat the teacher', async () => {
    const s = await readSweepConfig(example);
    const runs = syntheticRuns(s, 1.7);
    const sorted = runs.map((r) => r.loss).sort((a, b) => a - b);
    const teacher = sorted[3]! + 1e-6;
    for (const r of runs) r.teacherLoss = teacher;
    const w = checkRuns(runs);
    expect(w.map((x) => x.code)).toEqual(['teacher-above-student']);
    expect(w[0]!.runs).toHaveLength(4);
    expect(w[0]!.message).toMatch(/L_T = \d\.\d{4} is above 4 student\(s\): .*w48-l2\/kd\/steps-100 \(5\.\d{4}\)/);
  });
});

describe('sweep runs files round-trip through `distillery fit`', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'distillery-sweep-fit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the CLI reads supervised-runs.csv and distillation-runs.csv as is and fits the same laws the sweep did', async () => {
    const s = await readSweepConfig(example);
    const settings: SweepSettings = { ...s, sweep: { ...s.sweep, bootstrap: 20, starts: 16 } };
    const runs = syntheticRuns(settings, 1.7);
    const fits = fitSweep(runs, settings);
    await writeFile(join(dir, 'supervised-runs.csv'), fits.supervisedCsv);
    await writeFile(join(dir, 'distillation-runs.csv'), fits.distillationCsv);
    const io = captureIO({ cwd: dir });
    expect(await runCli(['fit', 'supervised-runs.csv', '--form', 'chinchilla', '--bootstrap', '20', '--starts', '16', '--json'], io)).toBe(
      0,
    );
    const cliSupervised = JSON.parse(io.out) as SupervisedFit;
    expect(cliSupervised.runs).toBe(12);
    expect(cliSupervised.law).toEqual(fits.supervised.law);
    expect(cliSupervised.parameters.map((p) => p.interval)).toEqual(fits.supervised.parameters.map((p) => p.interval));
    const io2 = captureIO({ cwd: dir });
    expect(
      await runCli(
        [
          'fit',
          'distillation-runs.csv',
          '--law',
          'distillation',
          '--supervised',
          'supervised-runs.csv',
          '--form',
          'chinchilla',
          '--bootstrap',
          '20',
          '--starts',
          '16',
          '--json',
        ],
        io2,
      ),
    ).toBe(0);
    const cliDistillation = JSON.parse(io2.out) as DistillationFit;
    expect(cliDistillation.runs).toBe(12);
    expect(cliDistillation.law).toEqual(fits.distillation.law);
    // The synthetic supervised runs follow their law within 0.2 %: so does the fit.
    expect(fits.supervised.rmsLogResidual).toBeLessThan(0.004);
    // One teacher: the diagnostics must say the teacher-dependent coefficients are not determined.
    expect(fits.distillation.trustworthy).toBe(false);
    expect(fits.distillation.diagnostics.some((d) => d.code === 'narrow-design' && /teacher/.test(d.message))).toBe(true);
    expect(CHINCHILLA_APPROACH3.gamma).toBe(1);
  });

  it('predicts the check students with intervals, realises N* from the family, and plans through `distillery plan --range`', async () => {
    const s = await readSweepConfig(example);
    const settings: SweepSettings = { ...s, sweep: { ...s.sweep, bootstrap: 20, starts: 16 } };
    const runs = syntheticRuns(settings, 1.7);
    const fits = fitSweep(runs, settings);
    const p = makePredictions(fits, runs, settings, { teacher: { ...STORIES_260K, params: 227_264 }, tokensPerStep: 470 });
    expect(p.checks.filter((c) => c.role === 'check-size').map((c) => c.method)).toEqual(['scratch', 'kd']);
    for (const c of [...p.checks, ...p.skipped]) {
      expect(c.predicted.lower).toBeLessThanOrEqual(c.predicted.loss + 1e-12);
      expect(c.predicted.upper).toBeGreaterThanOrEqual(c.predicted.loss - 1e-12);
    }
    const optimal = [...p.checks, ...p.skipped].filter((c) => c.role === 'check-optimal');
    for (const c of optimal) expect(Math.abs(c.flops / p.budget.flops - 1)).toBeLessThan(0.05);
    expect(p.budget.flops).toBeCloseTo(1.25 * Math.max(...runs.map((r) => r.flops)), 0);
    await writeFile(join(dir, 'laws.json'), JSON.stringify({ supervised: fits.supervised.law, distillation: fits.distillation.law }));
    const io = captureIO({ cwd: dir });
    const [min, max] = p.budget.command.split('--range ')[1]!.split(',');
    expect(
      await runCli(
        [
          'plan',
          '--laws',
          'laws.json',
          '--student',
          '20000',
          '--budget',
          String(p.budget.flops),
          '--scenario',
          'free',
          '--range',
          `${min},${max}`,
          '--json',
        ],
        io,
      ),
    ).toBe(0);
    const plan = JSON.parse(io.out) as { supervisedComputeOptimal: { params: number } };
    expect(plan.supervisedComputeOptimal.params).toBeCloseTo(p.budget.plan.params, 6);
    const bad = captureIO({ cwd: dir });
    expect(await runCli(['plan', '--student', '1B', '--budget', '1e21', '--range', '5,1'], bad)).not.toBe(0);
    expect(bad.err).toMatch(/--range/);
  });
});

describe('measured crossover', () => {
  it('finds where distillation stops beating scratch at equal compute, and says when one side always wins', () => {
    const mk = (method: 'scratch' | 'kd', tokens: number, loss: number): SweepRun => ({
      id: `s/${method}/${tokens}`,
      size: 's',
      method,
      role: 'grid',
      steps: tokens,
      params: 1000,
      totalParams: 2000,
      tokens,
      flops: 6000 * tokens,
      loss,
      teacherLoss: 1,
      agreement: 0,
      seconds: 1,
    });
    // kd better by 0.2 at D = 100, equal at D = 300, worse by 0.2 at D = 1000 (linear in log D here).
    const runs = [mk('scratch', 100, 4), mk('scratch', 1000, 3), mk('kd', 100, 3.8), mk('kd', 1000, 3.2)];
    const free = measuredCrossovers(runs, 1e5, 0)[0]!;
    expect(free.status).toBe('crossover');
    expect(free.tokens).toBeCloseTo(Math.sqrt(100 * 1000), 6);
    const always = measuredCrossovers([mk('scratch', 100, 4), mk('scratch', 1000, 3), mk('kd', 100, 3.5), mk('kd', 1000, 2.5)], 1e5, 0)[0]!;
    expect(always.status).toBe('distillation-always');
    // Paying the teacher's forwards moves the kd runs beyond the scratch runs' compute: nothing to compare.
    expect(measuredCrossovers(runs, 1e6, 1)[0]!.status).toBe('not-measurable');
  });
});
