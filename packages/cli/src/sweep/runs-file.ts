import { DistilleryError } from '@distillery/core';
import type { SweepMethod } from './config.js';

/** Where a run sits in the experiment: the fitted grid, or one of the checks trained after the prediction. */
export type SweepRole = 'grid' | 'check-size' | 'check-optimal';

/** One trained student, in the laws' units. */
export interface SweepRun {
  /** `<size>/<method>/steps-<n>`: names the run in warnings and files. */
  id: string;
  size: string;
  method: SweepMethod;
  role: SweepRole;
  steps: number;
  /** N_S: non-embedding parameters (embedding and head excluded). */
  params: number;
  /** All parameters, embedding and head included. */
  totalParams: number;
  /** D_S: training positions with a label (steps × sequences × context × the corpus's labelled fraction). */
  tokens: number;
  /** 6 · N_S · D_S. */
  flops: number;
  /** Held-out next-token cross-entropy, nats/token (NaN when the run failed). */
  loss: number;
  /** The teacher's cross-entropy on the same held-out positions. */
  teacherLoss: number;
  /** Top-1 agreement with the teacher on the held-out positions. */
  agreement: number;
  /** Training wall time, seconds. */
  seconds: number;
  /** Why the run has no loss (a non-finite training loss), when it failed. */
  error?: string;
}

export interface RunWarning {
  code: 'non-finite-loss' | 'teacher-above-student';
  message: string;
  runs: string[];
}

/** Loud, named warnings about runs a law cannot describe. */
export function checkRuns(runs: readonly SweepRun[]): RunWarning[] {
  const warnings: RunWarning[] = [];
  const bad = runs.filter((r) => !Number.isFinite(r.loss));
  if (bad.length > 0) {
    warnings.push({
      code: 'non-finite-loss',
      message: `${bad.length} run(s) have no finite held-out loss and are left out of the fits: ${bad.map((r) => `${r.id}${r.error ? ` (${r.error})` : ''}`).join(', ')}`,
      runs: bad.map((r) => r.id),
    });
  }
  const teacher = runs.find((r) => Number.isFinite(r.teacherLoss))?.teacherLoss;
  const beaten = runs.filter((r) => Number.isFinite(r.loss) && teacher !== undefined && r.loss < teacher);
  if (beaten.length > 0) {
    warnings.push({
      code: 'teacher-above-student',
      message: `the teacher's held-out loss L_T = ${teacher!.toFixed(4)} is above ${beaten.length} student(s): ${beaten.map((r) => `${r.id} (${r.loss.toFixed(4)})`).join(', ')}; the distillation law has L_S >= L_T and cannot fit them`,
      runs: beaten.map((r) => r.id),
    });
  }
  return warnings;
}

/** The runs a law is fitted to: finite losses only; fewer than the law's coefficients is an error naming the runs. */
export function fittableRuns(runs: readonly SweepRun[], method: SweepMethod, coefficients: number): SweepRun[] {
  const all = runs.filter((r) => r.method === method && r.role === 'grid');
  const usable = all.filter((r) => Number.isFinite(r.loss) && Number.isFinite(r.teacherLoss));
  if (usable.length < coefficients) {
    const dropped = all.filter((r) => !usable.includes(r)).map((r) => r.id);
    throw new DistilleryError(
      'E_BAD_INPUT',
      `${usable.length} ${method} runs with a finite loss cannot determine ${coefficients} coefficients${dropped.length ? ` (left out: ${dropped.join(', ')})` : ''}`,
      { field: 'runs', value: usable.length, expected: `at least ${coefficients}`, runs: dropped },
    );
  }
  return usable;
}

function cell(value: number | string): string {
  if (typeof value === 'string') return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  return Number.isInteger(value) ? String(value) : value.toPrecision(8);
}

function csv(comment: string[], header: string[], rows: (number | string)[][]): string {
  return `${[...comment.map((c) => `# ${c}`), header.join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n')}\n`;
}

const UNITS = [
  'N = N_S: non-embedding parameters (embedding and output head excluded); D = D_S: training positions with a label',
  "flops = 6*N*D (the laws' convention: teacher forwards and the vocab head not counted); loss = held-out cross-entropy, nats/token",
];

/** Supervised (scratch) runs: `distillery fit supervised-runs.csv` reads it as is (columns N, D, loss). */
export function supervisedRunsCsv(runs: readonly SweepRun[]): string {
  return csv(
    UNITS,
    ['run', 'N', 'D', 'flops', 'loss'],
    runs.map((r) => [r.id, r.params, r.tokens, r.flops, r.loss]),
  );
}

/** Distilled runs: `distillery fit distillation-runs.csv --law distillation --supervised supervised-runs.csv` reads it as is. */
export function distillationRunsCsv(runs: readonly SweepRun[]): string {
  return csv(
    [...UNITS, "L_T = the teacher's held-out cross-entropy on the same positions"],
    ['run', 'N_S', 'D_S', 'flops', 'L_S', 'L_T'],
    runs.map((r) => [r.id, r.params, r.tokens, r.flops, r.loss, r.teacherLoss]),
  );
}

/** Every run with everything recorded (not a fit input: both methods in one table). */
export function allRunsCsv(runs: readonly SweepRun[]): string {
  return csv(
    UNITS,
    ['run', 'role', 'size', 'method', 'steps', 'N_S', 'params_total', 'D_S', 'flops', 'loss', 'L_T', 'agreement', 'seconds'],
    runs.map((r) => [
      r.id,
      r.role,
      r.size,
      r.method,
      r.steps,
      r.params,
      r.totalParams,
      r.tokens,
      r.flops,
      r.loss,
      r.teacherLoss,
      r.agreement,
      r.seconds,
    ]),
  );
}
