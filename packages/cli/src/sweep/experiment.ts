import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { DistilleryError, type StepEvent } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { renderObservedVsFitted } from '@distillery/scaling-laws';
import { formatFitReport } from '../commands/fit.js';
import { outputDirOf } from '../distill-lm/experiment.js';
import type { LmKit } from '../distill-lm/kit.js';
import {
  compareChecks,
  fitSweep,
  makePredictions,
  measuredCrossovers,
  type CheckResult,
  type Predictions,
  type SweepFits,
} from './analysis.js';
import { SWEEP_METHODS, type SweepSettings } from './config.js';
import { renderPredictedVsMeasured, renderSweepFrontier } from './plots.js';
import { formatSweepMarkdown } from './report.js';
import { openSweepSession, runIdOf, runSweepCell, type RunSpec } from './runner.js';
import { allRunsCsv, checkRuns, type RunWarning, type SweepRun } from './runs-file.js';

export interface SweepOptions {
  settings: SweepSettings;
  /** Folder the config's relative paths are resolved against. */
  baseDir: string;
  out?: string;
  quick?: boolean;
  /** Train the check runs of an existing predictions.json and compare. */
  check?: boolean;
  adapter: string;
  createKit: (teacherPath: string, context: number) => Promise<LmKit>;
  onStep?: (id: string, e: StepEvent) => void;
  onRun?: (run: SweepRun, fresh: boolean) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface SweepReport {
  adapter: string;
  quick: boolean;
  output: string;
  teacher: { name: string; params: number; heldOutLoss: number; heldOutTokens: number };
  tokensPerStep: number;
  trainTokens: number;
  settings: SweepSettings;
  runs: SweepRun[];
  warnings: RunWarning[];
  /** Training seconds summed over the grid's runs, and wall seconds of this process. */
  gridSeconds: number;
  wallSeconds: number;
  fits: { supervised: SweepFits['supervised']; distillation: SweepFits['distillation'] };
  predictions: Predictions;
  /** Whether predictions.json was written by this call (false: an earlier one was kept). */
  predictionsWritten: boolean;
  measuredCrossover: { free: ReturnType<typeof measuredCrossovers>; inference: ReturnType<typeof measuredCrossovers> };
  checks?: CheckResult[];
  files: string[];
}

const at = (base: string, path: string) => (isAbsolute(path) ? path : resolve(base, path));

export const PREDICTIONS_FILE = 'predictions.json';

/**
 * The sweep: every grid cell (size × budget × {scratch, kd}) through distill-lm's runner, the runs
 * files `distillery fit` reads, both laws fitted, plots, and predictions.json for the students
 * outside the grid — written once and never overwritten. With `check`, the check runs named in
 * predictions.json are trained and compared with what was predicted.
 */
export async function runSweep(o: SweepOptions): Promise<SweepReport> {
  const started = performance.now();
  const s = o.settings;
  const log = o.log ?? (() => {});
  const out = outputDirOf(o.baseDir, s.base.output, o);
  const predictionsPath = join(out, PREDICTIONS_FILE);
  if (o.check && !existsSync(predictionsPath)) {
    throw new DistilleryError(
      'E_NOT_FOUND',
      `--check trains the students of ${predictionsPath}, which does not exist: run the sweep without --check first (it writes the predictions; commit them before checking)`,
      { field: '--check', value: predictionsPath, file: predictionsPath },
    );
  }
  const session = await openSweepSession(
    s.base,
    {
      teacher: s.base.teacher ? at(o.baseDir, s.base.teacher) : undefined,
      corpus: s.base.corpus.path ? at(o.baseDir, s.base.corpus.path) : undefined,
      out,
    },
    o.createKit,
    log,
  );
  try {
    log(
      `teacher ${session.teacher.name}: ${session.teacherHeldOut.nats.toFixed(4)} nats/token on ${session.teacherHeldOut.tokens} held-out tokens; N_T ${session.teacher.params} non-embedding parameters`,
    );
    const seed = s.sweep.seed;
    const train = async (spec: RunSpec) => {
      const { run, fresh } = await runSweepCell(session, spec, seed, out, (e) => o.onStep?.(runIdOf(spec), e), o.signal);
      o.onRun?.(run, fresh);
      return run;
    };
    const runs: SweepRun[] = [];
    // Budget-major: a sweep stopped early has every size at the smaller budgets.
    for (const steps of [...s.sweep.steps].sort((a, b) => a - b)) {
      for (const size of s.base.students) for (const method of SWEEP_METHODS) runs.push(await train({ size, method, steps, role: 'grid' }));
    }
    const gridSeconds = runs.reduce((t, r) => t + (Number.isFinite(r.seconds) ? r.seconds : 0), 0);
    const warnings = checkRuns(runs);
    for (const w of warnings) log(`WARNING [${w.code}] ${w.message}`);

    const fits = fitSweep(runs, s);
    const shape = { teacher: session.teacher, tokensPerStep: session.tokensPerStep };
    const fresh = makePredictions(fits, runs, s, shape);
    const existing = await readFile(predictionsPath, 'utf8').then(
      (t) => JSON.parse(t) as Predictions,
      () => undefined,
    );
    let predictions = fresh;
    let predictionsWritten = false;
    if (existing) {
      predictions = existing;
      if (JSON.stringify(existing.laws) !== JSON.stringify(fresh.laws))
        log(`WARNING: ${predictionsPath} was made from other fits than these runs give now; it is kept (delete it to predict again)`);
    } else {
      await writeFileAtomic(predictionsPath, `${JSON.stringify(fresh, null, 2)}\n`);
      predictionsWritten = true;
      log(`wrote the predictions for ${fresh.checks.length} students outside the grid to ${predictionsPath}`);
    }

    let checks: CheckResult[] | undefined;
    const all = [...runs];
    if (o.check) {
      for (const c of predictions.checks) {
        all.push(await train({ size: c.size, method: c.method, steps: c.steps, role: c.role }));
      }
      const checkWarnings = checkRuns(all.filter((r) => r.role !== 'grid'));
      for (const w of checkWarnings) log(`WARNING [${w.code}] (check runs) ${w.message}`);
      checks = compareChecks(predictions, all);
    }
    const teacherParams = session.teacher.params;
    // Every run of a size counts: the long compute-optimal runs extend a size's scratch curve in compute.
    const measuredCrossover = { free: measuredCrossovers(all, teacherParams, 0), inference: measuredCrossovers(all, teacherParams, 1) };

    const report: SweepReport = {
      adapter: o.adapter,
      quick: o.quick ?? false,
      output: out,
      teacher: {
        name: session.teacher.name,
        params: teacherParams,
        heldOutLoss: session.teacherHeldOut.nats,
        heldOutTokens: session.teacherHeldOut.tokens,
      },
      tokensPerStep: session.tokensPerStep,
      trainTokens: session.trainTokens,
      settings: s,
      runs: all,
      warnings,
      gridSeconds,
      wallSeconds: (performance.now() - started) / 1000,
      fits: { supervised: fits.supervised, distillation: fits.distillation },
      predictions,
      predictionsWritten,
      measuredCrossover,
      ...(checks ? { checks } : {}),
      files: [],
    };
    const files: Record<string, string> = {
      'runs.csv': allRunsCsv(all),
      'supervised-runs.csv': fits.supervisedCsv,
      'distillation-runs.csv': fits.distillationCsv,
      'supervised-fit.json': `${JSON.stringify(fits.supervised, null, 2)}\n`,
      'distillation-fit.json': `${JSON.stringify(fits.distillation, null, 2)}\n`,
      'fits.txt': `${formatFitReport(fits.supervised, 'supervised-runs.csv')}\n${formatFitReport(fits.distillation, 'distillation-runs.csv')}`,
      'supervised-fit.svg': renderObservedVsFitted(fits.supervised, { title: 'Sweep: supervised law, observed vs fitted' }),
      'distillation-fit.svg': renderObservedVsFitted(fits.distillation, { title: 'Sweep: distillation law, observed vs fitted' }),
      'frontier.svg': renderSweepFrontier(runs, fits, session.teacherHeldOut.nats),
    };
    if (checks) {
      files['check.json'] = `${JSON.stringify(checks, null, 2)}\n`;
      if (checks.some((c) => Number.isFinite(c.measured))) files['predicted-vs-measured.svg'] = renderPredictedVsMeasured(checks);
    }
    report.files = [...Object.keys(files), PREDICTIONS_FILE, 'sweep.md', 'sweep.json', 'teacher.json'];
    files['sweep.md'] = formatSweepMarkdown(report);
    files['sweep.json'] = `${JSON.stringify({ ...report, fits: undefined }, null, 2)}\n`;
    for (const [name, text] of Object.entries(files)) await writeFileAtomic(join(out, name), text);
    return report;
  } finally {
    session.kit.dispose();
  }
}
