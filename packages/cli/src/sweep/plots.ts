import { predictDistilledLoss, predictSupervisedLoss, renderChart, type ChartMarker, type ChartSeries } from '@distillery/scaling-laws';
import type { SweepFits, CheckResult } from './analysis.js';
import type { SweepRun } from './runs-file.js';

/** Okabe-Ito, as the scaling-laws plots use. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

function logSpace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo * Math.pow(hi / lo, i / (n - 1)));
}

/**
 * Held-out loss against training FLOPs (6·N·D) for every size: the runs as points (scratch filled
 * circles in the size's colour, kd the same colour), the fitted laws as lines (supervised solid,
 * distillation dashed), the teacher's loss as a grey dashed line.
 */
export function renderSweepFrontier(runs: readonly SweepRun[], fits: SweepFits, teacherLoss: number): string {
  const finite = runs.filter((r) => Number.isFinite(r.loss));
  const sizes = [...new Map(finite.map((r) => [r.size, r.params])).entries()].sort((a, b) => a[1] - b[1]);
  const laws = { supervised: fits.supervised.law, distillation: fits.distillation.law };
  const tokens = finite.map((r) => r.tokens);
  const [dLo, dHi] = [Math.min(...tokens) / 1.5, Math.max(...tokens) * 1.5];
  const series: ChartSeries[] = [];
  sizes.forEach(([size, params], k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const grid = logSpace(dLo, dHi, 60);
    series.push({
      label: `${size} (N ${Math.round(params / 1000)}k) scratch`,
      points: finite.filter((r) => r.size === size && r.method === 'scratch').map((r) => [r.flops, r.loss] as const),
      style: 'points',
      color,
    });
    series.push({
      label: '',
      points: grid.map((d) => [6 * params * d, predictSupervisedLoss(laws.supervised, params, d)] as const),
      style: 'line',
      color,
    });
    series.push({
      label: `${size} kd (dashed: law)`,
      points: finite.filter((r) => r.size === size && r.method === 'kd').map((r) => [r.flops, r.loss] as const),
      style: 'points',
      color: PALETTE[(k + 4) % PALETTE.length],
    });
    series.push({
      label: '',
      points: grid.map(
        (d) => [6 * params * d, predictDistilledLoss(laws, { studentParams: params, studentTokens: d, teacherLoss })] as const,
      ),
      style: 'line',
      color: PALETTE[(k + 4) % PALETTE.length],
      dashed: true,
    });
  });
  const flops = finite.map((r) => r.flops);
  series.push({
    label: `teacher L_T ${teacherLoss.toFixed(3)}`,
    points: [
      [Math.min(...flops) / 2, teacherLoss],
      [Math.max(...flops) * 2, teacherLoss],
    ],
    style: 'line',
    color: '#999999',
    dashed: true,
  });
  return renderChart({
    title: 'Sweep: held-out loss vs training compute, runs and fitted laws',
    subtitle: 'scratch: supervised law (solid); kd from the teacher: distillation law (dashed); FLOPs = 6·N·D, N non-embedding',
    xLabel: 'training FLOPs (6·N_S·D_S)',
    yLabel: 'held-out cross-entropy (nats/token)',
    xScale: 'log',
    series,
    width: 900,
    height: 560,
  });
}

/** Predicted (with the bootstrap interval as a horizontal bar) against measured held-out loss for the check runs. */
export function renderPredictedVsMeasured(checks: readonly CheckResult[]): string {
  const measured = checks.filter((c) => Number.isFinite(c.measured));
  const all = measured.flatMap((c) => [c.measured, c.predicted.lower, c.predicted.upper]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = 0.05 * (hi - lo || 1);
  const domain: [number, number] = [lo - pad, hi + pad];
  const markers: ChartMarker[] = measured.map((c, i) => ({
    x: c.predicted.loss,
    y: c.measured,
    label: c.id,
    color: c.method === 'kd' ? PALETTE[1] : PALETTE[0],
    labelDy: (i % 3) * 12 - 12,
  }));
  const series: ChartSeries[] = [
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
    {
      label: 'scratch (supervised law)',
      points: measured.filter((c) => c.method === 'scratch').map((c) => [c.predicted.loss, c.measured] as const),
      style: 'points',
      color: PALETTE[0],
    },
    {
      label: 'kd (distillation law)',
      points: measured.filter((c) => c.method === 'kd').map((c) => [c.predicted.loss, c.measured] as const),
      style: 'points',
      color: PALETTE[1],
    },
    ...measured.map((c) => ({
      label: '',
      points: [
        [c.predicted.lower, c.measured],
        [c.predicted.upper, c.measured],
      ] as const,
      style: 'line' as const,
      color: c.method === 'kd' ? PALETTE[1] : PALETTE[0],
    })),
  ];
  return renderChart({
    title: 'Predicted before training vs measured held-out loss',
    subtitle: 'bars: 95 % bootstrap interval of the prediction',
    xLabel: 'predicted (nats/token)',
    yLabel: 'measured (nats/token)',
    xDomain: domain,
    yDomain: domain,
    legend: 'top-left',
    series,
    markers,
    width: 760,
    height: 560,
  });
}
