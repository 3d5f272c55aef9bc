import { dirname, resolve } from 'node:path';
import { acquireDevice } from '@distillery/webgpu';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { createProgress, type Progress } from '../progress.js';
import { createLlamaKit } from '../distill-lm/llama-kit.js';
import { quickSweepSettings, readSweepConfig } from '../sweep/config.js';
import { runSweep } from '../sweep/experiment.js';
import { abortOnSigint, configPathOf } from './collect.js';

export const sweepCommand: CliCommand = {
  name: 'sweep',
  summary:
    'Train a grid of Llama students (sizes × tokens, scratch and KD), fit the scaling laws to it, predict students outside it, then check',
  usage: `Usage: distillery sweep <config.json> [--quick] [--check] [--out DIR] [--json]

From one LM distillation config (the fields of \`distillery distill-lm\`, plus a "sweep" section),
trains every student size of "students" for every budget of "sweep.steps", from scratch and by KD
from the in-process teacher, with distill-lm's runner (one run folder each: a rerun resumes a killed
run and reads finished ones back). For each run it records N_S (non-embedding parameters), D_S
(labelled training positions), training FLOPs (6·N_S·D_S), the held-out cross-entropy and the
teacher's L_T on the same positions, into files \`distillery fit\` reads as is:
  supervised-runs.csv     distillery fit supervised-runs.csv --form <sweep.form>
  distillation-runs.csv   distillery fit distillation-runs.csv --law distillation --supervised supervised-runs.csv
then fits both laws (fits.txt, *-fit.json, *-fit.svg, frontier.svg) and writes predictions.json: the
predicted held-out loss, with its bootstrap interval, of students outside the grid (sweep.check:
a larger student; the compute-optimal model at a budget just above the largest run, with its
iso-FLOP neighbours) and the predicted crossover of KD and scratch at equal compute.
predictions.json is never overwritten.

  --check     train the students of predictions.json and compare (check.json, predicted-vs-measured.svg)
  --quick     three tiny sizes × three budgets of a few steps on a corpus slice (a CI smoke run)
  --out DIR   output folder (default: the config's "output", relative to the config; with --quick,
              that folder's name + "-quick", so a smoke run never mixes with a real one)
  --json      print the report as JSON

Config "sweep": { steps: [..], seed, form: chinchilla|busbridge, bootstrap, starts,
  check: { student, steps, budgetFactor, family: [sizes] } }  (see docs/scaling-laws.md)`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('sweep', argv, {
      quick: { type: 'boolean' },
      check: { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
    });
    const path = configPathOf('sweep', positionals, io);
    const full = await readSweepConfig(path);
    const quick = values.quick === true;
    const settings = quick ? quickSweepSettings(full) : full;
    const out = typeof values.out === 'string' ? resolve(io.cwd, values.out) : undefined;
    const { device, info } = await acquireDevice({ label: 'distillery-sweep' });
    const sigint = abortOnSigint();
    const log = (line: string) => io.stderr(`${line}\n`);
    let bar: { key: string; progress: Progress } | undefined;
    let report;
    try {
      report = await runSweep({
        settings,
        baseDir: dirname(path),
        out,
        quick,
        check: values.check === true,
        adapter: `${[info.vendor, info.architecture, info.device].filter(Boolean).join(' ')} (${info.backend})`,
        createKit: (teacherPath, context) => createLlamaKit(device, teacherPath, context),
        log,
        signal: sigint.signal,
        onStep: (id, e) => {
          if (bar?.key !== id) bar = { key: id, progress: createProgress(io, id.padEnd(34), e.totalSteps) };
          bar.progress.update(e.step, `loss ${e.loss.toFixed(3)}`);
        },
        onRun: (r, fresh) => {
          const line = `held-out ${r.loss.toFixed(4)} nats/token, N_S ${r.params}, D_S ${Math.round(r.tokens)}, ${Number.isFinite(r.seconds) ? r.seconds.toFixed(0) : '?'} s`;
          if (bar?.key === r.id) bar.progress.finish(line);
          else log(`${r.id.padEnd(34)} ${line}${fresh ? '' : ' (read back)'}`);
          bar = undefined;
        },
      });
    } finally {
      sigint.dispose();
      device.destroy();
    }
    if (values.json) io.stdout(`${JSON.stringify({ ...report, fits: undefined }, null, 2)}\n`);
    else {
      const f = report.fits;
      io.stdout(`${report.runs.length} runs; teacher L_T ${report.teacher.heldOutLoss.toFixed(4)}\n`);
      io.stdout(
        `supervised law: ${f.supervised.trustworthy ? 'no warnings' : 'NOT TRUSTWORTHY'} (RMS log residual ${(100 * f.supervised.rmsLogResidual).toFixed(2)} %); distillation law: ${f.distillation.trustworthy ? 'no warnings' : 'NOT TRUSTWORTHY'} (RMS ${(100 * f.distillation.rmsLogResidual).toFixed(2)} %)\n`,
      );
      for (const c of report.checks ?? [])
        io.stdout(
          `${c.id.padEnd(34)} predicted ${c.predicted.loss.toFixed(4)} [${c.predicted.lower.toFixed(4)}, ${c.predicted.upper.toFixed(4)}], measured ${c.measured.toFixed(4)}${c.inside ? '' : ' (outside the interval)'}\n`,
        );
      io.stdout(
        `${report.predictionsWritten ? 'wrote' : 'kept'} ${report.output}/predictions.json; wrote ${report.files.filter((x) => x !== 'predictions.json').join(', ')} in ${report.output}\n`,
      );
    }
    return 0;
  },
};
