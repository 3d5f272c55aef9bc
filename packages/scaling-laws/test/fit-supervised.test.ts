import { describe, expect, it } from 'vitest';
import {
  BUSBRIDGE_SUPERVISED,
  CHINCHILLA_APPROACH3,
  fitSupervised,
  predictSupervisedLoss,
  predictSupervisedWithInterval,
  type SupervisedFit,
  type SupervisedLaw,
  type SupervisedRun,
} from '../src/index.js';
import { syntheticSupervisedRuns } from './synthetic.js';

const NAMES = ['E', 'A', 'B', 'alpha', 'beta', 'gamma'] as const;

function coefficient(fit: SupervisedFit, name: string) {
  const p = fit.parameters.find((q) => q.name === name);
  if (!p) throw new Error(`no parameter ${name}`);
  return p;
}

/** Largest relative prediction error of `law` against `truth` over fresh points in the design range. */
function heldOutError(law: SupervisedLaw, truth: SupervisedLaw): number {
  const points = syntheticSupervisedRuns(truth, 200, 0, 999);
  return Math.max(...points.map((p) => Math.abs(predictSupervisedLoss(law, p.params, p.tokens) / p.loss - 1)));
}

describe('fitSupervised recovers known coefficients', () => {
  it.each([
    ['chinchilla', CHINCHILLA_APPROACH3],
    ['busbridge', BUSBRIDGE_SUPERVISED],
  ] as const)('%s form, 80 runs with 0.5 %% log-normal noise', (form, truth) => {
    const runs = syntheticSupervisedRuns(truth, 80, 0.005, 11);
    const fit = fitSupervised(runs, { form, bootstrap: 60, seed: 3 });
    expect(fit.convergence.bestConverged).toBe(true);
    expect(fit.rmsLogResidual).toBeLessThan(0.008);
    for (const name of NAMES) {
      if (form === 'chinchilla' && name === 'gamma') continue;
      const p = coefficient(fit, name);
      const value = truth[name];
      // Bootstrap percentile intervals cover the truth...
      expect(p.interval!.lower).toBeLessThanOrEqual(value);
      expect(p.interval!.upper).toBeGreaterThanOrEqual(value);
    }
    // ...and the well-determined coefficients are close to it.
    expect(Math.abs(fit.law.E / truth.E - 1)).toBeLessThan(0.06);
    expect(Math.abs(fit.law.alpha - truth.alpha)).toBeLessThan(0.08);
    expect(Math.abs(fit.law.beta - truth.beta)).toBeLessThan(0.08);
    // Predictions anywhere in the design range (corners included) stay within 1 %.
    expect(heldOutError(fit.law, truth)).toBeLessThan(0.01);
    expect(fit.diagnostics.filter((d) => d.severity === 'warning')).toEqual([]);
    expect(fit.trustworthy).toBe(true);
    // The objective reported is the papers' unscaled Huber sum.
    expect(fit.objective).toBeGreaterThan(0);
    expect(fit.objective).toBeLessThan(runs.length * fit.huberDelta * 0.05);
  });

  it('the fast default finds the same optimum as the full 4,500-start Chinchilla grid', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 40, 0.005, 5);
    const full = fitSupervised(runs, { form: 'chinchilla', grid: 'full', bootstrap: 0 });
    const fast = fitSupervised(runs, { form: 'chinchilla', bootstrap: 0 });
    expect(full.convergence.starts).toBe(4500);
    expect(full.convergence.strategy).toBe('full');
    expect(fast.convergence.starts).toBe(64);
    expect(fast.objective).toBeLessThanOrEqual(full.objective * (1 + 1e-9));
    for (const name of ['E', 'alpha', 'beta'] as const) expect(fast.law[name]).toBeCloseTo(full.law[name], 5);
  });

  it('is deterministic for a seed', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 30, 0.01, 2);
    const a = fitSupervised(runs, { form: 'chinchilla', bootstrap: 20, seed: 9 });
    const b = fitSupervised(runs, { form: 'chinchilla', bootstrap: 20, seed: 9 });
    const c = fitSupervised(runs, { form: 'chinchilla', bootstrap: 20, seed: 10 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.bootstrap)).not.toBe(JSON.stringify(c.bootstrap));
  });

  it('gives 95 % prediction intervals that cover the true loss in about 95 % of datasets', () => {
    const truth = predictSupervisedLoss(CHINCHILLA_APPROACH3, 1e9, 2e10);
    let covered = 0;
    const datasets = 20;
    for (let k = 0; k < datasets; k++) {
      const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 50, 0.005, 200 + k);
      const fit = fitSupervised(runs, { form: 'chinchilla', bootstrap: 50, seed: k });
      const prediction = predictSupervisedWithInterval(fit, 1e9, 2e10);
      expect(prediction.upper - prediction.lower).toBeLessThan(0.02 * truth);
      if (prediction.lower <= truth && truth <= prediction.upper) covered++;
    }
    expect(covered).toBeGreaterThanOrEqual(16);
  });
});

describe('Huber versus least squares', () => {
  it('Huber ignores a few outlier runs that drag least squares away', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 60, 0.002, 31);
    // Six runs diverged or were mis-logged: their losses are 15 % too high.
    const corrupted: SupervisedRun[] = runs.map((r, i) => (i % 10 === 3 ? { ...r, loss: r.loss * 1.15 } : r));
    const huber = fitSupervised(corrupted, { form: 'chinchilla', huberDelta: 1e-3, bootstrap: 0 });
    const squares = fitSupervised(corrupted, { form: 'chinchilla', huberDelta: Infinity, bootstrap: 0 });
    const huberError = heldOutError(huber.law, CHINCHILLA_APPROACH3);
    const squaresError = heldOutError(squares.law, CHINCHILLA_APPROACH3);
    expect(huberError).toBeLessThan(0.01);
    expect(squaresError).toBeGreaterThan(2 * huberError);
    expect(Math.abs(huber.law.E - CHINCHILLA_APPROACH3.E)).toBeLessThan(Math.abs(squares.law.E - CHINCHILLA_APPROACH3.E));
    // The outliers stand out in Huber's residuals (about log 1.15 = 0.14), not smeared over every run.
    const outlierResiduals = huber.residuals.filter((_, i) => i % 10 === 3).map((r) => -r.logResidual);
    for (const r of outlierResiduals) expect(r).toBeGreaterThan(0.1);
  });
});

describe('diagnostics say when a fit cannot be trusted', () => {
  it('flags a coefficient stuck on its bound', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 40, 0.005, 41);
    const fit = fitSupervised(runs, { form: 'chinchilla', bounds: { E: [1.9, 3] }, bootstrap: 0 });
    const e = coefficient(fit, 'E');
    expect(e.onBound).toBe('lower');
    expect(e.determined).toBe(false);
    expect(fit.diagnostics.map((d) => d.code)).toContain('on-bound');
    expect(fit.trustworthy).toBe(false);
  });

  it('flags a design with a single model size', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 30, 0.005, 42).map((r) => ({
      ...r,
      params: 1e9,
      loss: predictSupervisedLoss(CHINCHILLA_APPROACH3, 1e9, r.tokens),
    }));
    const fit = fitSupervised(runs, { form: 'chinchilla', bootstrap: 20 });
    const narrow = fit.diagnostics.find((d) => d.code === 'narrow-design');
    expect(narrow?.parameters).toEqual(['A', 'alpha']);
    expect(fit.trustworthy).toBe(false);
    expect(coefficient(fit, 'alpha').determined || coefficient(fit, 'A').determined).toBe(false);
  });

  it('flags few, noisy runs with huge bootstrap spread', () => {
    const runs = syntheticSupervisedRuns(BUSBRIDGE_SUPERVISED, 10, 0.03, 43);
    const fit = fitSupervised(runs, { form: 'busbridge', bootstrap: 40 });
    const codes = fit.diagnostics.map((d) => d.code);
    expect(codes).toContain('few-runs');
    expect(codes).toContain('wide-interval');
    expect(fit.trustworthy).toBe(false);
    expect(fit.parameters.some((p) => !p.determined)).toBe(true);
  });

  it('flags data the law does not describe', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 40, 0, 44).map((r) => ({
      ...r,
      loss: 3 + Math.sin(3 * Math.log(r.params)),
    }));
    const fit = fitSupervised(runs, { form: 'chinchilla', bootstrap: 0 });
    expect(fit.diagnostics.map((d) => d.code)).toContain('poor-fit');
    expect(fit.trustworthy).toBe(false);
  });

  it('reports the convergence of the search', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 30, 0.005, 45);
    const fit = fitSupervised(runs, {
      form: 'chinchilla',
      grid: [
        [6, 6, 0.5, 0.3, 0.3],
        [10, 10, 0, 1, 1],
      ],
      bootstrap: 0,
    });
    expect(fit.convergence.strategy).toBe('custom');
    expect(fit.convergence.starts).toBe(2);
    expect(fit.convergence.evaluations).toBeGreaterThan(10);
    expect(Object.keys(fit.convergence.nearBestSpread)).toEqual(['aCentred', 'bCentred', 'logE', 'alpha', 'beta']);
    expect(fit.diagnostics.map((d) => d.code)).toContain('bootstrap-off');
  });

  it('rejects bad options naming them', () => {
    const runs = syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 10, 0.005, 46);
    expect(() => fitSupervised(runs, { huberDelta: 0 })).toThrow(/options.huberDelta/);
    expect(() => fitSupervised(runs, { bounds: { alpha: [2, 1] } })).toThrow(/options.bounds.alpha/);
    expect(() => fitSupervised(runs, { bootstrap: 2.5 })).toThrow(/options.bootstrap/);
  });
});
