import type { FlopsModel } from '../compute/flops.js';
import { forwardFlopsPerToken, SIMPLE_FLOPS } from '../compute/flops.js';
import type { ScenarioName } from '../compute/scenarios.js';
import { formatQuantity } from '../data/units.js';
import type { DistillationFit } from '../fit/fit-distillation.js';
import type { SupervisedFit } from '../fit/fit-supervised.js';
import { BUSBRIDGE_SUPERVISED } from '../laws/presets.js';
import { predictSupervisedLoss } from '../laws/supervised.js';
import type { SupervisedLaw } from '../laws/types.js';
import type { PlanningLaws } from '../plan/common.js';
import { distillationCrossover } from '../plan/crossover.js';
import { planDistillation, supervisedBaselineFor } from '../plan/plan-distillation.js';
import { supervisedComputeOptimal } from '../plan/supervised-optimal.js';
import { optimalTeacherLoss, teacherLossSweep } from '../plan/teacher-loss.js';
import { formatTick, renderChart, type ChartMarker, type ChartSeries, PALETTE } from './chart.js';

function logSpace(lo: number, hi: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (count - 1)));
}

/** Observed against fitted loss for every run, with the y = x line; flags an untrustworthy fit in the subtitle. */
export function renderObservedVsFitted(fit: SupervisedFit | DistillationFit, options: { title?: string } = {}): string {
  const observed = fit.residuals.map((r) => r.loss);
  const predicted = fit.residuals.map((r) => r.predicted);
  const lo = Math.min(...observed, ...predicted);
  const hi = Math.max(...observed, ...predicted);
  const pad = 0.03 * (hi - lo || 1);
  const domain: [number, number] = [lo - pad, hi + pad];
  const verdict = fit.trustworthy
    ? 'no warnings'
    : `NOT TRUSTWORTHY: ${fit.diagnostics
        .filter((d) => d.severity === 'warning')
        .map((d) => d.code)
        .join(', ')}`;
  return renderChart({
    title: options.title ?? `Observed vs fitted loss (${fit.kind} law)`,
    subtitle: `${fit.runs} runs, RMS log residual ${(100 * fit.rmsLogResidual).toFixed(2)} %, ${verdict}`,
    xLabel: 'observed loss (nats/token)',
    yLabel: 'fitted loss (nats/token)',
    xDomain: domain,
    yDomain: domain,
    legend: 'top-left',
    series: [
      {
        label: 'y = x',
        points: [
          [domain[0], domain[0]],
          [domain[1], domain[1]],
        ],
        style: 'line',
        color: '#999999',
        dashed: true,
      },
      { label: 'runs', points: observed.map((o, i) => [o, predicted[i]!] as const), style: 'points', color: PALETTE[0] },
    ],
  });
}

/**
 * Iso-FLOP curves: loss against model size at fixed compute (D = C / (3 F(N))), with the compute-optimal
 * model of each budget marked.
 */
export function renderIsoFlopCurves(options: {
  budgets: readonly number[];
  law?: SupervisedLaw;
  flops?: FlopsModel;
  paramsRange?: [number, number];
  title?: string;
}): string {
  const law = options.law ?? BUSBRIDGE_SUPERVISED;
  const flops = options.flops ?? SIMPLE_FLOPS;
  const [nLo, nHi] = options.paramsRange ?? [1e7, 1e12];
  const sizes = logSpace(nLo, nHi, 200);
  const series: ChartSeries[] = [];
  const markers: ChartMarker[] = [];
  options.budgets.forEach((budget, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const points = sizes
      .map((n) => {
        const tokens = budget / (3 * forwardFlopsPerToken(n, flops));
        return [n, tokens >= 1e6 ? predictSupervisedLoss(law, n, tokens) : NaN] as const;
      })
      .filter(([, loss]) => Number.isFinite(loss));
    series.push({ label: `C = ${formatTick(budget)} FLOPs`, points, style: 'line', color });
    const best = supervisedComputeOptimal({ budget, law, flops });
    markers.push({ x: best.params, y: best.loss, label: `N* ${formatQuantity(best.params)}`, color });
  });
  const allLosses = series.flatMap((s) => s.points.map((p) => p[1]));
  const floor = Math.min(...allLosses);
  return renderChart({
    title: options.title ?? 'Iso-FLOP curves (supervised law)',
    subtitle: `E=${law.E.toPrecision(4)} A=${law.A.toPrecision(4)} B=${law.B.toPrecision(4)} alpha=${law.alpha.toPrecision(3)} beta=${law.beta.toPrecision(3)} gamma=${law.gamma.toPrecision(3)}; diamonds: compute-optimal N`,
    xLabel: 'non-embedding parameters N',
    yLabel: 'loss (nats/token)',
    xScale: 'log',
    series,
    markers,
    yDomain: [floor - 0.05, Math.min(Math.max(...allLosses), floor + 2)],
  });
}

const SCENARIO_LABELS: Record<ScenarioName, string> = {
  free: 'distill, teacher free',
  inference: 'distill, teacher inference paid',
  pretraining: 'distill, teacher pretraining paid',
  both: 'distill, teacher inference + pretraining paid',
};

/**
 * Best predicted student loss against total compute for a student of fixed size: supervised training
 * and compute-optimal distillation under each scenario, with crossovers marked.
 */
export function renderDistillationFrontier(options: {
  studentParams: number;
  budgets?: [number, number];
  scenarios?: readonly ScenarioName[];
  laws?: PlanningLaws;
  flops?: FlopsModel;
  points?: number;
  title?: string;
}): string {
  const [cLo, cHi] = options.budgets ?? [1e18, 1e25];
  const budgets = logSpace(cLo, cHi, options.points ?? 36);
  const scenarios = options.scenarios ?? (['free', 'inference', 'pretraining', 'both'] as const);
  const series: ChartSeries[] = [
    {
      label: 'supervised (same student)',
      points: budgets.map(
        (c) =>
          [
            c,
            supervisedBaselineFor({ studentParams: options.studentParams, budget: c, laws: options.laws, flops: options.flops }).loss,
          ] as const,
      ),
      style: 'line',
      color: '#000000',
      dashed: true,
    },
  ];
  const markers: ChartMarker[] = [];
  scenarios.forEach((scenario, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    series.push({
      label: SCENARIO_LABELS[scenario],
      points: budgets.map((c) => {
        const plan = planDistillation({
          studentParams: options.studentParams,
          budget: c,
          scenario,
          laws: options.laws,
          flops: options.flops,
        });
        return [c, plan.feasible ? plan.studentLoss : NaN] as const;
      }),
      style: 'line',
      color,
    });
    const crossover = distillationCrossover({
      studentParams: options.studentParams,
      scenario,
      laws: options.laws,
      flops: options.flops,
      budgets: [cLo, cHi],
    });
    if (crossover.status === 'crossover' && crossover.budget !== null && crossover.loss !== null) {
      markers.push({ x: crossover.budget, y: crossover.loss, label: `crossover ${crossover.budget.toExponential(1)}`, color });
    }
  });
  return renderChart({
    title: options.title ?? `Distillation vs supervised frontier, N_S = ${formatQuantity(options.studentParams)}`,
    subtitle: 'compute-optimal D_S, N_T, D_T per budget; diamonds: where distillation stops beating supervised training',
    xLabel: 'total compute C (FLOPs)',
    yLabel: 'student loss (nats/token)',
    xScale: 'log',
    series,
    markers,
  });
}

/**
 * Student loss against teacher loss for fixed student tokens: the U shape is the capacity gap, and the
 * diamond marks the best teacher for each token count. The dashed line is L_S = L_T.
 */
export function renderTeacherLossSweep(options: {
  studentParams: number;
  studentTokens: readonly number[];
  teacherLossRange?: [number, number];
  laws?: PlanningLaws;
  title?: string;
}): string {
  const [lo, hi] = options.teacherLossRange ?? [1.5, 3.5];
  const losses = Array.from({ length: 240 }, (_, i) => lo + ((hi - lo) * i) / 239);
  const series: ChartSeries[] = [];
  const markers: ChartMarker[] = [];
  options.studentTokens.forEach((tokens, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const sweep = teacherLossSweep({
      studentParams: options.studentParams,
      studentTokens: tokens,
      teacherLosses: losses,
      laws: options.laws,
    });
    const best = optimalTeacherLoss({
      studentParams: options.studentParams,
      studentTokens: tokens,
      laws: options.laws,
      lower: lo,
      upper: hi,
    });
    series.push({
      label: `D_S = ${formatQuantity(tokens)}: best L_T ${best.teacherLoss.toFixed(3)}`,
      points: sweep.map((p) => [p.teacherLoss, p.studentLoss] as const),
      style: 'line',
      color,
    });
    markers.push({ x: best.teacherLoss, y: best.studentLoss, label: '', color });
  });
  series.push({
    label: 'L_S = L_T',
    points: [
      [lo, lo],
      [hi, hi],
    ],
    style: 'line',
    color: '#999999',
    dashed: true,
  });
  const studentLosses = series.slice(0, -1).flatMap((s) => s.points.map((p) => p[1]));
  return renderChart({
    title: options.title ?? `Teacher-loss sweep, N_S = ${formatQuantity(options.studentParams)}`,
    subtitle: 'diamonds mark the best teacher: stronger ones make worse students (capacity gap)',
    xLabel: 'teacher loss L_T (nats/token)',
    yLabel: 'student loss L_S (nats/token)',
    series,
    markers,
    xDomain: [lo, hi],
    yDomain: [Math.min(...studentLosses) - 0.1, Math.max(...studentLosses) + 0.05],
    legend: 'bottom-right',
  });
}
