import { dirname } from 'node:path';
import { readConfigFile, runStepByStep } from '@distillery/black-box';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { abortOnSigint, configPathOf, progressPrinter } from './collect.js';

const percent = (x: number) => `${(x * 100).toFixed(2)}%`;

export const stepByStepCommand: CliCommand = {
  name: 'step-by-step',
  summary: 'Distilling step-by-step: collect CoT rationales, report teacher accuracy, build the predict/explain dataset',
  usage: `Usage: distillery step-by-step <config.json> [--json]

Collects (or replays) the teacher's few-shot chain-of-thought answers for the train and test
splits, parses them into rationale + label, reports the teacher's accuracy against gold, and writes
train/validation/test JSONL with "predict: " and "explain: " inputs (Hugging Face datasets loads
them as they are), rejected.jsonl (outputs that did not parse, with the reason) and report.json.
Resumes like \`distillery collect\`. A "train" section is kept for the student trainer.

  --json   print the report as JSON

Config (JSON; see docs/black-box.md):
  data        {"dir": "../shared/data/step-by-step", "dataset": "svamp"|"cqa", "limit"?: N}
              or {"train": "train.jsonl", "test"?: "test.jsonl"} with "preset"
  teacher     "recorded" (default for the release: PaLM's outputs) or a teacher spec
  preset      "arithmetic" | "multiple-choice" | "nli"     exemplars  [{input, rationale, label}]
  build       {labels: "teacher"|"gold", dropDisagreeing, validationFraction, seed}
  collect     {concurrency, timeoutMs, retry, rateLimit, budget, cache}
  output      folder for the results`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('step-by-step', argv, { json: { type: 'boolean' } });
    const path = configPathOf('step-by-step', positionals, io);
    const config = await readConfigFile(path);
    const progress = progressPrinter(io);
    const sigint = abortOnSigint();
    let current = '';
    let report;
    try {
      report = await runStepByStep(config, {
        baseDir: dirname(path),
        signal: sigint.signal,
        onProgress: (split, p) => {
          if (split !== current) progress.done();
          current = split;
          progress.update(split, p);
        },
      });
    } finally {
      sigint.dispose();
      progress.done();
    }
    if (values.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const lines = [`teacher ${report.teacher} on ${report.dataset} (${report.preset}): accuracy against gold`];
      for (const [split, s] of Object.entries(report.splits)) {
        const failures = Object.entries(s.accuracy.failures).map(([reason, n]) => `${reason} ${n}`).join(', ');
        lines.push(`  ${split.padEnd(5)} ${percent(s.accuracy.accuracy).padStart(7)}  (${s.accuracy.correct}/${s.accuracy.withGold}; ${s.accuracy.parsed} parsed${failures ? `; unparsed: ${failures}` : ''})`);
      }
      if (report.build) lines.push(`dataset: ${report.build.train} train, ${report.build.validation} validation, ${report.build.rejected} rejected`);
      lines.push(`wrote ${report.files.join(', ')}`);
      if (!report.complete) lines.push('incomplete: some outputs are missing (see completions/*.errors.jsonl); rerun to resume');
      if (report.training === 'not-implemented') lines.push('note: the "train" section is not run by this version (student training comes with the trainer)');
      io.stdout(`${lines.join('\n')}\n`);
    }
    return report.complete ? 0 : 1;
  },
};
