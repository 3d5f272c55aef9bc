import {
  bisectRoot,
  fitDistillation,
  fitSupervised,
  predictDistilledLoss,
  predictDistilledWithInterval,
  predictSupervisedLoss,
  predictSupervisedWithInterval,
  readDistillationRuns,
  readSupervisedRuns,
  supervisedComputeOptimal,
  type DistillationFit,
  type SupervisedFit,
} from '@distillery/scaling-laws';
import type { StudentSize } from '../distill-lm/config.js';
import { lawParameterCount, type SweepMethod, type SweepSettings } from './config.js';
import { nonEmbeddingParams, trainingFlops, type TeacherShape } from './params.js';
import { distillationRunsCsv, fittableRuns, supervisedRunsCsv, type SweepRole, type SweepRun } from './runs-file.js';

/** The range the planner searches N and D in: this sweep's models are 1e3-1e6 parameters, far below the CLI's default [1e6, 1e17]. */
export const PLAN_RANGE = { min: 1e2, max: 1e10 };

export interface SweepFits {
  supervised: SupervisedFit;
  distillation: DistillationFit;
  /** The exact files the fits were made from (what `distillery fit` reads). */
  supervisedCsv: string;
  distillationCsv: string;
}

/**
 * The supervised law on the scratch runs, then the distillation law on the kd runs with that law as
 * stage one: each fitted from the CSV text `distillery fit` reads, so the CLI gives the same fit.
 */
export function fitSweep(runs: readonly SweepRun[], s: SweepSettings): SweepFits {
  const form = s.sweep.form;
  const scratch = fittableRuns(runs, 'scratch', lawParameterCount('supervised', form));
  const kd = fittableRuns(runs, 'kd', lawParameterCount('distillation', form));
  const supervisedCsv = supervisedRunsCsv(scratch);
  const distillationCsv = distillationRunsCsv(kd);
  const options = { bootstrap: s.sweep.bootstrap, fastStarts: s.sweep.starts, seed: s.sweep.seed };
  const supervised = fitSupervised(readSupervisedRuns(supervisedCsv), { ...options, form });
  const distillation = fitDistillation(readDistillationRuns(distillationCsv), supervised.law, options);
  return { supervised, distillation, supervisedCsv, distillationCsv };
}

/** One student the laws predict before it is trained. */
export interface CheckPoint {
  /** `<size>/<method>/steps-<n>`, the run folder it will be trained in. */
  id: string;
  role: Exclude<SweepRole, 'grid'>;
  size: StudentSize;
  method: SweepMethod;
  steps: number;
  params: number;
  tokens: number;
  flops: number;
  /** Predicted held-out loss and its bootstrap interval (the supervised law for scratch, the distillation law for kd). */
  predicted: { loss: number; lower: number; upper: number };
  why: string;
}

export interface CrossoverEstimate {
  size: string;
  params: number;
  /** 'crossover': distillation wins below `tokens` (or `flops`), supervised above; otherwise one side wins everywhere searched. */
  status: 'crossover' | 'distillation-always' | 'supervised-always' | 'not-measurable';
  /** Supervised training tokens at the crossover. */
  tokens: number | null;
  flops: number | null;
}

export interface Predictions {
  /** Written before the check runs are trained (the commit order is the evidence). */
  written: string;
  teacherLoss: number;
  teacherParams: number;
  tokensPerStep: number;
  laws: { supervised: SupervisedFit['law']; distillation: DistillationFit['law'] };
  budget: {
    flops: number;
    largestGridRun: string;
    factor: number;
    plan: { params: number; tokens: number; loss: number; atRangeBound: boolean };
    command: string;
  };
  checks: CheckPoint[];
  /** Predicted but not trained: more steps than `check.maxSteps`. */
  skipped: CheckPoint[];
  /** Predicted crossovers at equal compute; `free`: the teacher's forwards are not counted; `inference`: they are (2·N_T per token). */
  crossover: { free: CrossoverEstimate[]; inference: CrossoverEstimate[] };
}

export interface SweepShape {
  teacher: TeacherShape & { params: number };
  /** Labelled training positions per optimiser step (sequences × context × the labelled fraction). */
  tokensPerStep: number;
}

const runId = (size: string, method: SweepMethod, steps: number) => `${size}/${method}/steps-${steps}`;

function predictPoint(fits: SweepFits, method: SweepMethod, params: number, tokens: number, teacherLoss: number) {
  return method === 'scratch'
    ? predictSupervisedWithInterval(fits.supervised, params, tokens)
    : predictDistilledWithInterval(fits.distillation, { studentParams: params, studentTokens: tokens, teacherLoss });
}

/**
 * Crossover at equal compute for one student size, with this sweep's teacher (L_T fixed). Compute
 * C buys the supervised student C / 6N tokens and the distilled one C / (6N + 2N_T·paid).
 */
export function fixedTeacherCrossover(
  lossGap: (logFlops: number) => number,
  logLo: number,
  logHi: number,
): { status: CrossoverEstimate['status']; logFlops: number | null } {
  const steps = 60;
  let previous = lossGap(logLo);
  let previousX = logLo;
  let sawWin = previous < 0;
  for (let i = 1; i <= steps; i++) {
    const x = logLo + ((logHi - logLo) * i) / steps;
    const value = lossGap(x);
    if (previous < 0 && value >= 0) return { status: 'crossover', logFlops: bisectRoot(lossGap, previousX, x, 1e-9) };
    if (value < 0) sawWin = true;
    previous = value;
    previousX = x;
  }
  return { status: sawWin ? 'distillation-always' : 'supervised-always', logFlops: null };
}

export function predictedCrossovers(
  fits: SweepFits,
  sizes: readonly { name: string; params: number }[],
  teacherLoss: number,
  teacherParams: number,
  tokenRange: [number, number],
): Predictions['crossover'] {
  const laws = { supervised: fits.supervised.law, distillation: fits.distillation.law };
  const estimate = (paid: number) =>
    sizes.map(({ name, params }) => {
      const perTokenKd = 6 * params + 2 * teacherParams * paid;
      const gap = (logC: number) => {
        const C = Math.exp(logC);
        return (
          predictDistilledLoss(laws, { studentParams: params, studentTokens: C / perTokenKd, teacherLoss }) -
          predictSupervisedLoss(laws.supervised, params, C / (6 * params))
        );
      };
      const r = fixedTeacherCrossover(gap, Math.log(6 * params * tokenRange[0]), Math.log(6 * params * tokenRange[1]));
      const flops = r.logFlops === null ? null : Math.exp(r.logFlops);
      return {
        size: name,
        params,
        status: r.status,
        flops,
        tokens: flops === null ? null : flops / (6 * params),
      } satisfies CrossoverEstimate;
    });
  return { free: estimate(0), inference: estimate(1) };
}

/** Loss of the runs of one size and method at log-compute x, interpolated linearly in log FLOPs (undefined outside them). */
function interpolate(points: readonly { x: number; loss: number }[], x: number): number | undefined {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (x >= a.x - 1e-12 && x <= b.x + 1e-12) return a.loss + ((b.loss - a.loss) * (x - a.x)) / (b.x - a.x || 1);
  }
  return undefined;
}

/**
 * The crossover the runs show, per size: distilled minus supervised loss at the distilled runs'
 * compute (supervised loss interpolated in log FLOPs between its runs), the first sign change from
 * distillation winning to supervised winning located by linear interpolation.
 */
export function measuredCrossovers(runs: readonly SweepRun[], teacherParams: number, paid: 0 | 1): CrossoverEstimate[] {
  const sizes = [...new Set(runs.map((r) => r.size))];
  return sizes.map((size) => {
    const mine = runs.filter((r) => r.size === size && Number.isFinite(r.loss));
    const params = mine[0]?.params ?? Number.NaN;
    const scratch = mine.filter((r) => r.method === 'scratch').map((r) => ({ x: Math.log(r.flops), loss: r.loss }));
    const kd = mine
      .filter((r) => r.method === 'kd')
      .map((r) => ({ x: Math.log(r.tokens * (6 * r.params + 2 * teacherParams * paid)), loss: r.loss }))
      .sort((a, b) => a.x - b.x);
    const gaps = kd
      .map((k) => ({
        x: k.x,
        gap: (() => {
          const s = interpolate(scratch, k.x);
          return s === undefined ? undefined : k.loss - s;
        })(),
      }))
      .filter((g): g is { x: number; gap: number } => g.gap !== undefined);
    if (gaps.length < 2) return { size, params, status: 'not-measurable', tokens: null, flops: null };
    for (let i = 1; i < gaps.length; i++) {
      const a = gaps[i - 1]!;
      const b = gaps[i]!;
      if (a.gap < 0 && b.gap >= 0) {
        const x = a.x + ((b.x - a.x) * -a.gap) / (b.gap - a.gap);
        return { size, params, status: 'crossover', flops: Math.exp(x), tokens: Math.exp(x) / (6 * params) };
      }
    }
    return {
      size,
      params,
      status: gaps.every((g) => g.gap < 0) ? 'distillation-always' : gaps.every((g) => g.gap >= 0) ? 'supervised-always' : 'crossover',
      tokens: null,
      flops: null,
    };
  });
}

/**
 * What the fitted laws predict for the students outside the grid, written before they are trained:
 * the check student (larger N_S) with both methods; `distillery plan`'s compute-optimal supervised
 * model at a budget just above the sweep's largest run (N* realised by the closest architecture of
 * the family, its neighbours on the same iso-FLOP line, and the kd student at the chosen size);
 * the crossovers.
 */
export function makePredictions(fits: SweepFits, runs: readonly SweepRun[], s: SweepSettings, shape: SweepShape): Predictions {
  const teacherLoss = runs.find((r) => Number.isFinite(r.teacherLoss))!.teacherLoss;
  const grid = runs.filter((r) => r.role === 'grid');
  const largest = grid.reduce((a, b) => (b.flops > a.flops ? b : a));
  const budget = s.sweep.check.budgetFactor * largest.flops;
  const plan = supervisedComputeOptimal({ budget, law: fits.supervised.law, range: PLAN_RANGE });
  const checks: CheckPoint[] = [];
  const skipped: CheckPoint[] = [];
  const add = (size: StudentSize, method: SweepMethod, steps: number, role: CheckPoint['role'], why: string) => {
    const params = nonEmbeddingParams(size, shape.teacher);
    const tokens = steps * shape.tokensPerStep;
    (steps > s.sweep.check.maxSteps ? skipped : checks).push({
      id: runId(size.name, method, steps),
      role,
      size,
      method,
      steps,
      params,
      tokens,
      flops: trainingFlops(params, tokens),
      predicted: predictPoint(fits, method, params, tokens, teacherLoss),
      why,
    });
  };
  const c = s.sweep.check;
  for (const method of ['scratch', 'kd'] as const)
    add(
      c.student,
      method,
      c.steps,
      'check-size',
      `N_S ${(nonEmbeddingParams(c.student, shape.teacher) / Math.max(...grid.map((r) => r.params))).toFixed(2)}x the largest grid size`,
    );

  // Realise N*: the family's architectures in order of size; the closest in log N, and its neighbours.
  const family = [...c.family]
    .map((size) => ({ size, params: nonEmbeddingParams(size, shape.teacher) }))
    .sort((a, b) => a.params - b.params);
  let chosen = 0;
  family.forEach((f, i) => {
    if (Math.abs(Math.log(f.params / plan.params)) < Math.abs(Math.log(family[chosen]!.params / plan.params))) chosen = i;
  });
  const stepsAt = (params: number) => Math.max(1, Math.round(budget / (6 * params) / shape.tokensPerStep));
  for (const i of c.neighbours ? [chosen - 1, chosen, chosen + 1] : [chosen]) {
    const f = family[i];
    if (!f) continue;
    const why =
      i === chosen
        ? `closest in the family to the planned N* = ${plan.params.toFixed(0)}`
        : `iso-FLOP neighbour of the planned size (${i < chosen ? 'smaller' : 'larger'})`;
    add(f.size, 'scratch', stepsAt(f.params), 'check-optimal', why);
  }
  add(
    family[chosen]!.size,
    'kd',
    stepsAt(family[chosen]!.params),
    'check-optimal',
    'distilled at the planned size and budget (teacher forwards free)',
  );

  const sizes = [...new Map(grid.map((r) => [r.size, r.params])).entries()].map(([name, params]) => ({ name, params }));
  sizes.push({ name: c.student.name, params: nonEmbeddingParams(c.student, shape.teacher) });
  const tokens = grid.map((r) => r.tokens);
  return {
    written: new Date().toISOString(),
    teacherLoss,
    teacherParams: shape.teacher.params,
    tokensPerStep: shape.tokensPerStep,
    laws: { supervised: fits.supervised.law, distillation: fits.distillation.law },
    budget: {
      flops: budget,
      largestGridRun: largest.id,
      factor: s.sweep.check.budgetFactor,
      plan: {
        params: plan.params,
        tokens: plan.tokens,
        loss: plan.loss,
        atRangeBound: plan.params < PLAN_RANGE.min * 1.01 || plan.params > PLAN_RANGE.max / 1.01,
      },
      command: `distillery plan --laws distillation-fit.json --student ${Math.round(family[chosen]!.params)} --budget ${budget.toPrecision(4)} --scenario free --range ${PLAN_RANGE.min},${PLAN_RANGE.max}`,
    },
    checks,
    skipped,
    crossover: predictedCrossovers(fits, sizes, teacherLoss, shape.teacher.params, [Math.min(...tokens) / 100, Math.max(...tokens) * 1000]),
  };
}

export interface CheckResult extends CheckPoint {
  measured: number;
  /** measured − predicted, and whether the measurement is inside the interval. */
  error: number;
  inside: boolean;
}

export function compareChecks(predictions: Predictions, runs: readonly SweepRun[]): CheckResult[] {
  return predictions.checks.map((p) => {
    const run = runs.find((r) => r.id === p.id);
    const measured = run?.loss ?? Number.NaN;
    return { ...p, measured, error: measured - p.predicted.loss, inside: measured >= p.predicted.lower && measured <= p.predicted.upper };
  });
}
