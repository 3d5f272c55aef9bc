import { resolve } from 'node:path';
import { badValue, DistilleryError } from '@distillery/core';
import { readUserFile, requireNotDirectory, writeFileAtomic as writeAtomic } from '@distillery/core/node';
import {
  BUSBRIDGE_SUPERVISED,
  CHINCHILLA_APPROACH3,
  fitDistillation,
  fitSupervised,
  formatQuantity,
  lawsFromJson,
  readDistillationRuns,
  readSupervisedRuns,
  renderObservedVsFitted,
  type CommonFitOptions,
  type DistillationFit,
  type SupervisedFit,
  type SupervisedForm,
  type SupervisedLaw,
} from '@distillery/scaling-laws';
import { parseCommandArgs } from '../args.js';
import type { CliCommand, CliIO } from '../command.js';

/**
 * Writes a temp file, fsyncs and renames it over `path` (core's `writeFileAtomic`), so readers never
 * see half a file; a folder at `path` is E_BAD_VALUE and leaves no temp file behind.
 */
export async function writeFileAtomic(path: string, text: string, field = 'path'): Promise<void> {
  await requireNotDirectory(path, field);
  await writeAtomic(path, text);
}

/**
 * Reads a text file relative to the CLI's working directory: a missing file is E_NOT_FOUND, a
 * folder E_BAD_VALUE, both naming `field` (the flag or argument that gave the path).
 */
export async function readTextFile(io: CliIO, path: string, field = 'path'): Promise<string> {
  return readUserFile(resolve(io.cwd, path), field, 'utf8');
}

/** The string-valued flags of a parseArgs result (node's typings widen them to string | boolean). */
export function stringFlags(values: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(values)) if (typeof value === 'string') out[key] = value;
  return out;
}

/** "params=N,tokens=D,loss=val_loss" -> { params: 'N', tokens: 'D', loss: 'val_loss' }. */
export function parseColumns(text: string | undefined, known: readonly string[]): Record<string, string> {
  if (text === undefined) return {};
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [key, ...rest] = pair.split('=');
    const field = key?.trim() ?? '';
    const column = rest.join('=').trim();
    if (!known.includes(field) || column === '')
      throw badValue('--columns', text, `comma-separated field=column pairs with fields from ${known.join(', ')}`);
    out[field] = column;
  }
  return out;
}

function parseNumberFlag(flag: string, text: string | undefined, check: (n: number) => boolean, expected: string): number | undefined {
  if (text === undefined) return undefined;
  const value = text === 'inf' || text === 'Infinity' ? Infinity : Number(text);
  if (!check(value)) throw badValue(flag, text, expected);
  return value;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude >= 1e5 || magnitude < 1e-3) ? value.toExponential(4) : value.toPrecision(5);
}

/** The human report: coefficients with intervals, fit quality, search, and the verdict first-class. */
export function formatFitReport(fit: SupervisedFit | DistillationFit, source: string): string {
  const lines: string[] = [];
  if (fit.kind === 'supervised') {
    lines.push(
      `Supervised law, ${fit.form} form (${fit.form === 'chinchilla' ? 'gamma = 1' : 'gamma free'}), fitted to ${fit.runs} runs from ${source}`,
    );
    lines.push('  L(N, D) = E + (A / N^alpha + B / D^beta)^gamma');
  } else {
    lines.push(`Distillation law fitted to ${fit.runs} runs from ${source}`);
    lines.push('  L_S = L_T + L_T^-c0 (1 + (L_T / (L~_S d1))^(1/f1))^(-c1 f1) (A / N_S^alpha + B / D_S^beta)^gamma');
    const s = fit.supervisedLaw;
    lines.push(
      `  L~_S from: E=${formatNumber(s.E)} A=${formatNumber(s.A)} B=${formatNumber(s.B)} alpha=${formatNumber(s.alpha)} beta=${formatNumber(s.beta)} gamma=${formatNumber(s.gamma)}`,
    );
  }
  lines.push('');
  const level = fit.bootstrap ? `${Math.round(100 * fit.bootstrap.level)} % interval` : 'interval';
  lines.push(`  ${'coefficient'.padEnd(12)} ${'value'.padStart(12)}   ${level.padEnd(28)} note`);
  for (const p of fit.parameters) {
    const interval = p.interval ? `[${formatNumber(p.interval.lower)}, ${formatNumber(p.interval.upper)}]` : '(no bootstrap)';
    const note = p.onBound ? `ON ${p.onBound.toUpperCase()} BOUND` : p.determined ? '' : 'NOT DETERMINED';
    lines.push(`  ${p.name.padEnd(12)} ${formatNumber(p.value).padStart(12)}   ${interval.padEnd(28)} ${note}`.trimEnd());
  }
  lines.push('');
  lines.push(`  objective (sum of Huber losses, delta ${fit.huberDelta}): ${formatNumber(fit.objective)}`);
  lines.push(`  log residuals: RMS ${(100 * fit.rmsLogResidual).toFixed(2)} %, max ${(100 * fit.maxAbsLogResidual).toFixed(2)} %`);
  const c = fit.convergence;
  lines.push(
    `  search: ${c.strategy} grid, ${c.starts} starts (${c.convergedStarts} converged in their first run), ${c.evaluations} evaluations; best run stopped on '${c.bestReason}'`,
  );
  if (fit.bootstrap)
    lines.push(
      `  bootstrap: ${fit.bootstrap.resamples} resamples of the runs (seed ${fit.bootstrap.seed}), ${fit.bootstrap.failed} failed`,
    );
  if (fit.kind === 'supervised' && fit.extrapolation) {
    const x = fit.extrapolation;
    lines.push(
      `  extrapolation: at N ${formatQuantity(x.params)}, D ${formatQuantity(x.tokens)} (10x your largest) the law predicts ${x.loss.toFixed(4)} [${x.lower.toFixed(4)}, ${x.upper.toFixed(4)}]`,
    );
  }
  lines.push('');
  const warnings = fit.diagnostics.filter((d) => d.severity === 'warning');
  if (warnings.length === 0) {
    lines.push('Verdict: no warnings: no coefficient on a bound, no flat direction, no huge bootstrap spread.');
    lines.push(
      'The intervals above are what these runs support; correlated coefficients (A with alpha, B with beta) are wider than the predictions they make.',
    );
  } else {
    lines.push('Verdict: NOT TRUSTWORTHY. Do not quote the coefficients marked above as if they were measured:');
    for (const w of warnings) lines.push(`  - [${w.code}] ${w.message}`);
  }
  for (const d of fit.diagnostics.filter((x) => x.severity === 'info')) lines.push(`  note [${d.code}] ${d.message}`);
  return `${lines.join('\n')}\n`;
}

const SUPERVISED_FIELDS = ['params', 'tokens', 'loss'] as const;
const DISTILLATION_FIELDS = ['studentParams', 'studentTokens', 'studentLoss', 'teacherLoss', 'teacherParams', 'teacherTokens'] as const;

async function stageOneLaw(
  io: CliIO,
  reference: string,
  form: SupervisedForm,
  options: CommonFitOptions,
): Promise<{ law: SupervisedLaw; label: string }> {
  if (reference === 'busbridge') return { law: BUSBRIDGE_SUPERVISED, label: 'Busbridge et al. 2025 (published)' };
  if (reference === 'chinchilla') return { law: CHINCHILLA_APPROACH3, label: 'Hoffmann et al. 2022 approach 3 (published)' };
  const text = await readTextFile(io, reference, '--supervised');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const laws = lawsFromJson(JSON.parse(text) as unknown);
      if (laws.supervised) return { law: laws.supervised, label: reference };
    } catch (error) {
      // Not a laws document: treat the file as supervised runs below.
      if (!(error instanceof SyntaxError) && !(error instanceof DistilleryError)) throw error;
    }
  }
  const fit = fitSupervised(readSupervisedRuns(text), { ...options, form, bootstrap: 0 });
  if (!fit.trustworthy) {
    io.stderr(
      `distillery fit: warning: the stage-one supervised fit of ${reference} is not trustworthy (${fit.diagnostics
        .filter((d) => d.severity === 'warning')
        .map((d) => d.code)
        .join(', ')})\n`,
    );
  }
  return { law: fit.law, label: `${reference} (fitted, ${fit.form} form)` };
}

export const fitCommand: CliCommand = {
  name: 'fit',
  summary: 'Fit a supervised or distillation scaling law to your runs and say whether to trust it',
  usage: `Usage: distillery fit <runs.csv|runs.json> [options]

Fits L(N, D) = E + (A / N^alpha + B / D^beta)^gamma (or the distillation law of Busbridge et al.
2025) with the papers' protocol: Huber loss on log residuals, multistart bounded L-BFGS, bootstrap
percentile intervals. The report ends with a verdict: coefficients on a bound, flat directions and
huge bootstrap spreads are called out instead of printed as if they were measured.

  --law supervised|distillation  which law to fit (default supervised)
  --form busbridge|chinchilla    supervised form: gamma free (default) or gamma = 1
  --columns field=column,...     column names when they differ from the defaults, e.g.
                                 params=N,tokens=D,loss=val_loss (distillation fields: studentParams,
                                 studentTokens, studentLoss, teacherLoss, teacherParams, teacherTokens)
  --supervised <ref>             distillation only: the stage-one law for L~_S: "busbridge" (default),
                                 "chinchilla", a supervised runs file (fitted first) or a fit JSON
  --grid fast|full               initialisations: Latin-hypercube subset (default) or the paper's grid
  --starts N                     Latin-hypercube starts for --grid fast (default 64)
  --huber-delta X                default 1e-3 (chinchilla) or 1e-4; "inf" gives least squares
  --bootstrap N                  bootstrap resamples (default 100, 0 to skip)
  --seed N                       seed for starts and resamples (default 0)
  --out fit.json                 write the whole fit: coefficients, intervals, residuals, diagnostics
  --plot fit.svg                 write the observed-vs-fitted plot (standalone SVG)
  --json                         print the fit as JSON instead of the report
  --strict                       exit with status 3 when the fit is not trustworthy

Counts accept units: 7e9, 7B, 1.5e12, 300M, 1.2T.`,
  async run(argv, io) {
    const { values: raw, positionals } = parseCommandArgs('fit', argv, {
      law: { type: 'string', default: 'supervised' },
      form: { type: 'string' },
      columns: { type: 'string' },
      supervised: { type: 'string', default: 'busbridge' },
      grid: { type: 'string', default: 'fast' },
      starts: { type: 'string' },
      'huber-delta': { type: 'string' },
      bootstrap: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      plot: { type: 'string' },
      json: { type: 'boolean' },
      strict: { type: 'boolean' },
    } as const);
    const values = stringFlags(raw);
    if (positionals.length !== 1) throw badValue('runs file', positionals, 'exactly one runs file (CSV, JSON or JSON Lines)');
    const source = positionals[0]!;
    const law = values.law ?? 'supervised';
    if (law !== 'supervised' && law !== 'distillation') throw badValue('--law', law, '"supervised" or "distillation"');
    if (values.form !== undefined && values.form !== 'busbridge' && values.form !== 'chinchilla')
      throw badValue('--form', values.form, '"busbridge" or "chinchilla"');
    const grid = values.grid ?? 'fast';
    if (grid !== 'fast' && grid !== 'full') throw badValue('--grid', grid, '"fast" or "full"');
    const form: SupervisedForm = (values.form as SupervisedForm | undefined) ?? 'busbridge';
    const options: CommonFitOptions = {
      grid,
      fastStarts: parseNumberFlag('--starts', values.starts, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'),
      huberDelta: parseNumberFlag('--huber-delta', values['huber-delta'], (n) => n > 0, 'a number > 0 or "inf"'),
      bootstrap: parseNumberFlag('--bootstrap', values.bootstrap, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
      seed: parseNumberFlag('--seed', values.seed, (n) => Number.isInteger(n), 'an integer'),
    };
    // Refuse unusable output paths before the (possibly long) fit, not after it.
    if (values.out) await requireNotDirectory(resolve(io.cwd, values.out), '--out');
    if (values.plot) await requireNotDirectory(resolve(io.cwd, values.plot), '--plot');
    const text = await readTextFile(io, source, 'runs');

    let fit: SupervisedFit | DistillationFit;
    if (law === 'supervised') {
      const columns = parseColumns(values.columns, SUPERVISED_FIELDS);
      fit = fitSupervised(readSupervisedRuns(text, { columns }), { ...options, form });
    } else {
      const columns = parseColumns(values.columns, DISTILLATION_FIELDS);
      const runs = readDistillationRuns(text, { columns });
      const stageOne = await stageOneLaw(io, values.supervised ?? 'busbridge', form, options);
      if (raw.json !== true) io.stdout(`Stage one (L~_S): ${stageOne.label}\n`);
      fit = fitDistillation(runs, stageOne.law, options);
    }

    if (values.out) await writeFileAtomic(resolve(io.cwd, values.out), `${JSON.stringify(fit, null, 2)}\n`, '--out');
    if (values.plot) await writeFileAtomic(resolve(io.cwd, values.plot), renderObservedVsFitted(fit), '--plot');
    if (raw.json === true) io.stdout(`${JSON.stringify(fit, null, 2)}\n`);
    else {
      io.stdout(formatFitReport(fit, source));
      if (values.out) io.stdout(`wrote ${values.out}\n`);
      if (values.plot) io.stdout(`wrote ${values.plot}\n`);
    }
    return raw.strict === true && !fit.trustworthy ? 3 : 0;
  },
};
