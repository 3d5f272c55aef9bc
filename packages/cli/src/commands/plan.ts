import { resolve } from 'node:path';
import { badValue } from '@distillery/core';
import {
  BUSBRIDGE_DISTILLATION,
  BUSBRIDGE_SUPERVISED,
  distillationCrossover,
  formatQuantity,
  forwardFlopsPerToken,
  lawsFromJson,
  parseQuantity,
  planDistillation,
  renderDistillationFrontier,
  renderIsoFlopCurves,
  renderTeacherLossSweep,
  supervisedComputeOptimal,
  type Crossover,
  type DistillationPlan,
  type FlopsModel,
  type PlanningLaws,
  type ScenarioName,
  type SearchRange,
} from '@distillery/scaling-laws';
import { parseCommandArgs } from '../args.js';
import type { CliCommand, CliIO } from '../command.js';
import { readTextFile, stringFlags, writeFileAtomic } from './fit.js';

const SCENARIO_NAMES: readonly ScenarioName[] = ['free', 'inference', 'pretraining', 'both'];

function positiveQuantity(flag: string, text: string | undefined): number {
  const value = parseQuantity(text ?? '');
  if (!(Number.isFinite(value) && value > 0)) throw badValue(flag, text, 'a positive number, e.g. 1.5e9, 7B or 1e21');
  return value;
}

async function loadLaws(io: CliIO, path: string | undefined): Promise<{ laws: PlanningLaws; label: string }> {
  if (path === undefined)
    return { laws: { supervised: BUSBRIDGE_SUPERVISED, distillation: BUSBRIDGE_DISTILLATION }, label: 'Busbridge et al. 2025 (published)' };
  let document: unknown;
  try {
    document = JSON.parse(await readTextFile(io, path, '--laws'));
  } catch (error) {
    if (error instanceof SyntaxError) throw badValue('--laws', path, `a JSON file (${error.message})`);
    throw error;
  }
  const laws = lawsFromJson(document);
  const parts = [
    laws.supervised ? `supervised from ${path}` : 'supervised: Busbridge et al. 2025',
    laws.distillation ? `distillation from ${path}` : 'distillation: Busbridge et al. 2025',
  ];
  return {
    laws: { supervised: laws.supervised ?? BUSBRIDGE_SUPERVISED, distillation: laws.distillation ?? BUSBRIDGE_DISTILLATION },
    label: parts.join(', '),
  };
}

/** "1e2,1e10" -> { min, max }; undefined keeps the planner's default [1e6, 1e17]. */
function parseRange(text: string | undefined): SearchRange | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => parseQuantity(p.trim()));
  const [min, max] = parts;
  if (parts.length !== 2 || !(Number.isFinite(min) && Number.isFinite(max) && min! > 0 && max! > min!))
    throw badValue('--range', text, 'MIN,MAX with 0 < MIN < MAX, e.g. 1e2,1e10');
  return { min: min!, max: max! };
}

function percent(part: number, total: number): string {
  return `${Math.round((100 * part) / total)}%`;
}

function planRow(plan: DistillationPlan): string[] {
  if (!plan.feasible) return [plan.scenario, 'infeasible: the budget cannot pay for any teacher in range', '', '', '', '', '', ''];
  const c = plan.compute;
  return [
    plan.scenario,
    formatQuantity(plan.studentTokens),
    formatQuantity(plan.teacherParams),
    formatQuantity(plan.teacherTokens),
    plan.teacherLoss.toFixed(4),
    plan.studentLoss.toFixed(4),
    `${plan.advantage >= 0 ? '-' : '+'}${Math.abs(plan.advantage).toFixed(4)} ${plan.distillationWins ? '(distil)' : '(supervised)'}`,
    `${percent(c.student, c.total)} / ${percent(c.teacherInference, c.total)} / ${percent(c.teacherPretraining, c.total)}`,
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function describeCrossover(scenario: ScenarioName, crossover: Crossover): string {
  if (crossover.status === 'crossover') {
    return `  ${scenario.padEnd(11)} distillation wins below ${crossover.budget!.toExponential(2)} FLOPs (${formatQuantity(crossover.supervisedTokens!)} supervised tokens), supervised training above`;
  }
  return `  ${scenario.padEnd(11)} ${crossover.status === 'distillation-always' ? 'distillation wins at every budget searched' : 'supervised training wins at every budget searched'}`;
}

/** The search range of D_S, N_T and D_T (the paper's), where the laws were fitted and are trusted. */
const TOKEN_RANGE = { min: 1e6, max: 1e17 } as const;

/**
 * The laws hold only where the student's tokens fall inside the range they were fitted on: below
 * it the predicted loss is meaningless (a budget of 1e5 FLOPs "buys" 1.7e-5 tokens of a 1B model,
 * loss Infinity), above it the planner would cap the tokens while claiming to spend the whole budget.
 */
function requireBudgetInRange(
  budget: number,
  studentParams: number,
  flops: FlopsModel,
  tokenRange: { min: number; max: number } = TOKEN_RANGE,
): void {
  const perToken = 3 * forwardFlopsPerToken(studentParams, flops);
  const low = perToken * tokenRange.min;
  const high = perToken * tokenRange.max;
  if (budget < low || budget > high) {
    const tokens = budget / perToken;
    throw badValue(
      '--budget',
      budget,
      `between ${low.toExponential(2)} and ${high.toExponential(2)} FLOPs for a ${formatQuantity(studentParams)} student: it buys ${tokens.toExponential(2)} training tokens, outside [${tokenRange.min.toExponential(0)}, ${tokenRange.max.toExponential(0)}] where the laws are trusted${tokenRange === TOKEN_RANGE ? ' (laws fitted on your own, smaller runs: pass their range with --range MIN,MAX)' : ' (--range)'}`,
    );
  }
}

export const planCommand: CliCommand = {
  name: 'plan',
  summary: 'Plan compute-optimal distillation of a student under a FLOP budget, against supervised training',
  usage: `Usage: distillery plan --student <params> --budget <FLOPs> [options]

Chooses distillation tokens D_S, teacher size N_T and teacher tokens D_T (each in [1e6, 1e17]) that
minimise the predicted student loss under the budget (Busbridge et al. 2025, section 5), and compares
with training the same student without a teacher on the whole budget.

  --student N             student non-embedding parameters (1.5e9, 1.5B, 300M...)
  --budget C              total compute in FLOPs (1e21...)
  --scenario S            free (existing teacher), inference (teacher logits paid), pretraining
                          (teacher training paid), both, or all (default)
  --laws fit.json         laws from \`distillery fit --out\` (default: the published Busbridge laws)
  --flops simple|aspect-ratio   F(N) = 2N (default) or the paper's fixed-aspect-ratio correction
  --range MIN,MAX         search range of D_S, N_T, D_T and the compute-optimal N (default 1e6,1e17;
                          tiny models, e.g. a distillery sweep on TinyStories, need a lower MIN)
  --crossover             also find the budget where distillation stops beating supervised training
  --plot frontier.svg     write the distillation-vs-supervised frontier for this student
  --sweep-plot sweep.svg  write the teacher-loss sweep (capacity gap) at the planned D_S
  --iso-plot iso.svg      write supervised iso-FLOP curves around the budget
  --json                  print plans (and crossovers) as JSON`,
  async run(argv, io) {
    const { values: raw, positionals } = parseCommandArgs(
      'plan',
      argv,
      {
        student: { type: 'string' },
        budget: { type: 'string' },
        scenario: { type: 'string', default: 'all' },
        laws: { type: 'string' },
        flops: { type: 'string', default: 'simple' },
        range: { type: 'string' },
        crossover: { type: 'boolean' },
        plot: { type: 'string' },
        'sweep-plot': { type: 'string' },
        'iso-plot': { type: 'string' },
        json: { type: 'boolean' },
      } as const,
      false,
    );
    const values = stringFlags(raw);
    if (positionals.length > 0) throw badValue('arguments', positionals, 'flags only (see --help)');
    if (values.student === undefined) throw badValue('--student', undefined, 'the student size, e.g. --student 1B');
    if (values.budget === undefined) throw badValue('--budget', undefined, 'the compute budget in FLOPs, e.g. --budget 1e21');
    const studentParams = positiveQuantity('--student', values.student);
    const budget = positiveQuantity('--budget', values.budget);
    const scenarioFlag = values.scenario ?? 'all';
    if (scenarioFlag !== 'all' && !SCENARIO_NAMES.includes(scenarioFlag as ScenarioName))
      throw badValue('--scenario', scenarioFlag, `one of ${SCENARIO_NAMES.join(', ')}, all`);
    const scenarios = scenarioFlag === 'all' ? SCENARIO_NAMES : [scenarioFlag as ScenarioName];
    const flopsKind = values.flops ?? 'simple';
    if (flopsKind !== 'simple' && flopsKind !== 'aspect-ratio') throw badValue('--flops', flopsKind, '"simple" or "aspect-ratio"');
    const flops: FlopsModel = { kind: flopsKind };
    const range = parseRange(values.range);
    // A --range says where the caller's laws were fitted (e.g. a sweep of tiny students); without it, the published laws' range.
    requireBudgetInRange(budget, studentParams, flops, range && { min: range.min!, max: range.max! });
    const { laws, label } = await loadLaws(io, values.laws);

    const plans = scenarios.map((scenario) => planDistillation({ studentParams, budget, scenario, laws, flops, range }));
    const crossovers =
      raw.crossover === true
        ? scenarios.map((scenario) => ({ scenario, ...distillationCrossover({ studentParams, scenario, laws, flops, range }) }))
        : undefined;
    const optimum = supervisedComputeOptimal({ budget, law: laws.supervised, flops, range });

    if (values.plot)
      await writeFileAtomic(
        resolve(io.cwd, values.plot),
        renderDistillationFrontier({ studentParams, laws, flops, scenarios, budgets: [budget / 1e3, budget * 1e3] }),
        '--plot',
      );
    if (values['sweep-plot']) {
      const tokens = plans.find((p) => p.feasible)?.studentTokens ?? budget / (6 * studentParams);
      await writeFileAtomic(
        resolve(io.cwd, values['sweep-plot']),
        renderTeacherLossSweep({ studentParams, studentTokens: [tokens / 10, tokens, tokens * 10], laws }),
        '--sweep-plot',
      );
    }
    if (values['iso-plot'])
      await writeFileAtomic(
        resolve(io.cwd, values['iso-plot']),
        renderIsoFlopCurves({ budgets: [budget / 100, budget, budget * 100], law: laws.supervised, flops }),
        '--iso-plot',
      );

    if (raw.json === true) {
      io.stdout(
        `${JSON.stringify({ studentParams, budget, flops, laws, supervisedComputeOptimal: optimum, plans, crossovers }, null, 2)}\n`,
      );
      return 0;
    }
    const baseline = plans[0]!.supervisedBaseline;
    const lines = [
      `Student ${formatQuantity(studentParams)} parameters, budget ${budget.toExponential(2)} FLOPs, F(N) = ${flops.kind === 'simple' ? '2N' : '2N with the aspect-ratio correction'}`,
      `Laws: ${label}`,
      `Supervised baseline: the same student on ${formatQuantity(baseline.tokens)} tokens reaches loss ${baseline.loss.toFixed(4)}`,
      `(For reference, the compute-optimal supervised model at this budget: N ${formatQuantity(optimum.params)}, D ${formatQuantity(optimum.tokens)}, loss ${optimum.loss.toFixed(4)})`,
      '',
      table(['scenario', 'D_S', 'N_T', 'D_T', 'L_T', 'L_S', 'vs supervised', 'compute student / logits / teacher'], plans.map(planRow)),
      '',
      'L_T is the teacher loss L(N_T, D_T) from the supervised law. With a free teacher only L_T matters;',
      'the N_T, D_T shown are the cheapest teacher to pretrain that reaches it.',
    ];
    if (crossovers) {
      lines.push('', 'Crossover (where distillation stops beating supervised training for this student):');
      for (const c of crossovers) lines.push(describeCrossover(c.scenario, c));
    }
    for (const [flag, path] of [
      ['plot', values.plot],
      ['sweep-plot', values['sweep-plot']],
      ['iso-plot', values['iso-plot']],
    ] as const) {
      if (path) lines.push(`wrote ${path} (--${flag})`);
    }
    io.stdout(`${lines.join('\n')}\n`);
    return 0;
  },
};
