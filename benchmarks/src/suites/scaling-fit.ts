import {
  BUSBRIDGE_SUPERVISED,
  CHINCHILLA_APPROACH3,
  fitSupervised,
  gridSize,
  BUSBRIDGE_SUPERVISED_GRID,
  CHINCHILLA_GRID,
  predictSupervisedLoss,
  SeededRandom,
  type SupervisedFit,
  type SupervisedFitOptions,
  type SupervisedLaw,
  type SupervisedRun,
} from '@distillery/scaling-laws';
import { recordResult, type BenchResult, type BenchSuite } from '../suite.js';
import { timeHost } from '../timing.js';

/** 250 synthetic runs (log-uniform N in [5e7, 1e10], 2 to 500 tokens per parameter, 1 % noise), fixed seed. */
function syntheticRuns(law: SupervisedLaw, count: number): SupervisedRun[] {
  const random = new SeededRandom(2022);
  return Array.from({ length: count }, () => {
    const params = Math.exp(Math.log(5e7) + random.next() * Math.log(1e10 / 5e7));
    const tokens = params * Math.exp(Math.log(2) + random.next() * Math.log(500 / 2));
    return { params, tokens, loss: predictSupervisedLoss(law, params, tokens) * Math.exp(0.01 * random.normal()) };
  });
}

interface Case {
  name: string;
  law: SupervisedLaw;
  options: SupervisedFitOptions;
  starts: number;
}

/**
 * Multistart fitting cost on one core: the Chinchilla form with its 4,500-start grid (target under
 * 5 s), the gamma-free form with our 9,600-start grid, and the default fast search with a 100-resample
 * bootstrap. Everything runs single-threaded in this process.
 */
export const scalingFitSuite: BenchSuite = {
  name: 'scaling-fit',
  description: 'Scaling-law fits of 250 runs: full multistart grids and the default search, single-threaded',
  needsGpu: false,
  async run(ctx) {
    const runs = 250;
    const cases: Case[] = ctx.quick
      ? [
          { name: 'chinchilla-fast', law: CHINCHILLA_APPROACH3, options: { form: 'chinchilla', grid: 'fast', bootstrap: 0 }, starts: 64 },
          { name: 'busbridge-fast', law: BUSBRIDGE_SUPERVISED, options: { form: 'busbridge', grid: 'fast', bootstrap: 0 }, starts: 64 },
        ]
      : [
          {
            name: 'chinchilla-grid',
            law: CHINCHILLA_APPROACH3,
            options: { form: 'chinchilla', grid: 'full', bootstrap: 0 },
            starts: gridSize(CHINCHILLA_GRID),
          },
          {
            name: 'busbridge-grid',
            law: BUSBRIDGE_SUPERVISED,
            options: { form: 'busbridge', grid: 'full', bootstrap: 0 },
            starts: gridSize(BUSBRIDGE_SUPERVISED_GRID),
          },
          { name: 'busbridge-default-bootstrap', law: BUSBRIDGE_SUPERVISED, options: { form: 'busbridge', bootstrap: 100 }, starts: 64 },
        ];
    const results: BenchResult[] = [];
    for (const c of cases) {
      const data = syntheticRuns(c.law, runs);
      let fit: SupervisedFit | undefined;
      const ms = await timeHost(
        () => {
          fit = fitSupervised(data, { ...c.options, seed: 1 });
        },
        { warmup: 0, runs: ctx.quick ? 1 : 3 },
      );
      const result: BenchResult = {
        suite: 'scaling-fit',
        name: c.name,
        params: {
          runs,
          starts: c.starts,
          form: c.options.form ?? 'busbridge',
          grid: String(c.options.grid ?? 'fast'),
          bootstrap: c.options.bootstrap ?? 100,
        },
        ms,
        metrics: {
          seconds: ms.median / 1000,
          searchEvaluations: fit!.convergence.evaluations,
          convergedStarts: fit!.convergence.convergedStarts,
          msPerStart: ms.median / c.starts,
          usPerEvaluation: (1000 * ms.median) / fit!.convergence.evaluations,
          rmsLogResidual: fit!.rmsLogResidual,
        },
      };
      ctx.log(
        `${c.name}: ${(ms.median / 1000).toFixed(2)} s median, ${fit!.convergence.evaluations} objective evaluations, ${fit!.convergence.convergedStarts}/${c.starts} starts converged`,
      );
      results.push(recordResult(ctx, result));
    }
    return results;
  },
};
