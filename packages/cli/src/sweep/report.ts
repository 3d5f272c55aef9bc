import type { DistillationFit, SupervisedFit } from '@distillery/scaling-laws';
import type { CrossoverEstimate } from './analysis.js';
import type { SweepReport } from './experiment.js';

const num = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : 'NaN');
const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : 'NaN');
const count = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'NaN');

function short(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const m = Math.abs(value);
  return m !== 0 && (m >= 1e5 || m < 1e-3) ? value.toExponential(3) : value.toPrecision(4);
}

function fitTable(fit: SupervisedFit | DistillationFit): string[] {
  const lines = ['| coefficient | value | 95 % interval | determined by these runs? |', '|---|---|---|---|'];
  for (const p of fit.parameters) {
    const interval = p.interval ? `[${short(p.interval.lower)}, ${short(p.interval.upper)}]` : '–';
    const note = p.onBound ? `no: on its ${p.onBound} bound` : p.determined ? 'yes' : 'no';
    lines.push(`| ${p.name} | ${short(p.value)} | ${interval} | ${note} |`);
  }
  lines.push('');
  lines.push(
    `RMS log residual ${(100 * fit.rmsLogResidual).toFixed(2)} %, max ${(100 * fit.maxAbsLogResidual).toFixed(2)} %; ${fit.runs} runs. Verdict: ${fit.trustworthy ? 'no warnings' : 'NOT TRUSTWORTHY'}.`,
  );
  for (const d of fit.diagnostics.filter((x) => x.severity === 'warning')) lines.push(`- [${d.code}] ${d.message}`);
  return lines;
}

function crossoverText(c: CrossoverEstimate | undefined): string {
  if (!c) return '–';
  if (c.status === 'crossover')
    return c.flops === null ? 'sign changes more than once' : `kd wins below ${sci(c.flops)} FLOPs (D ${count(c.tokens!)})`;
  return c.status === 'distillation-always'
    ? 'kd wins everywhere'
    : c.status === 'supervised-always'
      ? 'scratch wins everywhere'
      : 'not measurable';
}

export function formatSweepMarkdown(r: SweepReport): string {
  const lines: string[] = [];
  const p = r.predictions;
  lines.push(`# Scaling-law sweep${r.quick ? ' (--quick: a smoke run, not a result)' : ''}`, '');
  lines.push(
    `Teacher ${r.teacher.name} (N_T ${count(r.teacher.params)} non-embedding parameters): held-out L_T = ${num(r.teacher.heldOutLoss)} nats/token on ${count(r.teacher.heldOutTokens)} tokens (it has seen this text in pre-training).`,
  );
  lines.push(
    `Adapter ${r.adapter}. ${count(r.tokensPerStep)} labelled training positions per step (D_S = steps × that); seed ${r.settings.sweep.seed}, one seed per cell.`,
  );
  lines.push(
    `Grid training time ${(r.gridSeconds / 60).toFixed(1)} min (summed over its runs); this call's wall time ${(r.wallSeconds / 60).toFixed(1)} min.`,
  );
  lines.push(
    'N_S counts non-embedding parameters (token embedding and untied head excluded); FLOPs = 6·N_S·D_S (teacher forwards and the vocab head not counted).',
    '',
  );
  if (r.warnings.length) {
    lines.push('**Warnings**', '');
    for (const w of r.warnings) lines.push(`- [${w.code}] ${w.message}`);
    lines.push('');
  }
  lines.push('## Runs', '');
  lines.push('| size | N_S | all params | steps | D_S | FLOPs | scratch | kd | kd − scratch |', '|---|---|---|---|---|---|---|---|---|');
  const grid = r.runs.filter((x) => x.role === 'grid');
  const cells = [...new Map(grid.map((x) => [`${x.size}|${x.steps}`, x])).values()].sort(
    (a, b) => a.params - b.params || a.steps - b.steps,
  );
  for (const c of cells) {
    const scratch = grid.find((x) => x.size === c.size && x.steps === c.steps && x.method === 'scratch');
    const kd = grid.find((x) => x.size === c.size && x.steps === c.steps && x.method === 'kd');
    lines.push(
      `| ${c.size} | ${count(c.params)} | ${count(c.totalParams)} | ${c.steps} | ${count(c.tokens)} | ${sci(c.flops)} | ${num(scratch?.loss ?? NaN)} | ${num(kd?.loss ?? NaN)} | ${num((kd?.loss ?? NaN) - (scratch?.loss ?? NaN), 3)} |`,
    );
  }
  lines.push(
    '',
    '## Supervised law (scratch runs)',
    '',
    'L(N, D) = E + (A / N^α + B / D^β)^γ' + (r.settings.sweep.form === 'chinchilla' ? ' with γ = 1' : ''),
    '',
    ...fitTable(r.fits.supervised),
  );
  lines.push('', '## Distillation law (kd runs, stage one: the supervised fit above)', '', ...fitTable(r.fits.distillation));
  lines.push('', '## Predictions for students outside the grid', '');
  lines.push(
    `Written ${p.written} (before these students were trained). Compute-optimal check: budget ${sci(p.budget.flops)} FLOPs = ${p.budget.factor} × the largest grid run (${p.budget.largestGridRun}); the fitted supervised law's optimum is N* ${count(p.budget.plan.params)}, D* ${count(p.budget.plan.tokens)}, L ${num(p.budget.plan.loss)} (\`${p.budget.command}\`).`,
    '',
  );
  lines.push(
    '| run | role | N_S | D_S | FLOPs | predicted [95 % interval] | measured | measured − predicted | inside? |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const c of p.checks) {
    const m = r.checks?.find((x) => x.id === c.id);
    lines.push(
      `| ${c.id} | ${c.role}: ${c.why} | ${count(c.params)} | ${count(c.tokens)} | ${sci(c.flops)} | ${num(c.predicted.loss)} [${num(c.predicted.lower)}, ${num(c.predicted.upper)}] | ${m ? num(m.measured) : 'not trained yet'} | ${m ? num(m.error, 3) : ''} | ${m ? (m.inside ? 'yes' : 'no') : ''} |`,
    );
  }
  for (const c of p.skipped ?? [])
    lines.push(
      `| ${c.id} | ${c.role}: ${c.why} | ${count(c.params)} | ${count(c.tokens)} | ${sci(c.flops)} | ${num(c.predicted.loss)} [${num(c.predicted.lower)}, ${num(c.predicted.upper)}] | not trained (more than check.maxSteps steps) | | |`,
    );
  if (p.budget.plan.atRangeBound)
    lines.push(
      '',
      `The planned N* sits on the planner's search bound: the fitted law wants a model outside [${'1e2'}, ${'1e10'}] parameters; the family member closest to it is checked.`,
    );
  lines.push('', '## Crossover at equal compute (this teacher, L_T fixed)', '');
  lines.push(
    "free: the teacher's forwards cost nothing (equal compute = equal D_S); inference: each distillation token also pays the teacher's forward, 2·N_T FLOPs.",
    '',
  );
  lines.push(
    '| size | N_S | predicted (free) | measured (free) | predicted (inference) | measured (inference) |',
    '|---|---|---|---|---|---|',
  );
  for (const c of p.crossover.free) {
    const inf = p.crossover.inference.find((x) => x.size === c.size);
    lines.push(
      `| ${c.size} | ${count(c.params)} | ${crossoverText(c)} | ${crossoverText(r.measuredCrossover.free.find((x) => x.size === c.size))} | ${crossoverText(inf)} | ${crossoverText(r.measuredCrossover.inference.find((x) => x.size === c.size))} |`,
    );
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
