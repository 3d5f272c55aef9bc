import { dirname } from 'node:path';
import { readConfigFile } from '@distillery/black-box/node';
import type { TrainingMode } from '@distillery/step-by-step';
import { runStepByStep, type StudentComparison } from '@distillery/step-by-step/node';
import { acquireDevice } from '@distillery/webgpu';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { createProgress, type Progress } from '../progress.js';
import { abortOnSigint, configPathOf, progressPrinter } from './collect.js';

const percent = (x: number) => `${(x * 100).toFixed(2)}%`;

const meanStd = (s: { mean: number; std: number }, scale = 1, digits = 2) =>
  `${(s.mean * scale).toFixed(digits)} ± ${(s.std * scale).toFixed(digits)}`;

function comparisonLines(c: StudentComparison): string[] {
  const m = c.settings.model;
  const lines = [
    `students: ${c.parameters.toLocaleString('en-US')}-parameter transformer (width ${m.width}, ${m.layers} layers, context ${m.context}), trained from scratch for ${c.steps} steps on ${c.trainRows} rows; ${c.settings.seeds.length} seed(s); test: ${c.testRows} rows`,
    `  ${'mode'.padEnd(13)} ${'test accuracy %'.padStart(16)} ${'label CE (nats/char)'.padStart(21)} ${'rationale CE'.padStart(13)} ${'s/run'.padStart(6)}`,
  ];
  for (const [mode, s] of Object.entries(c.byMode)) {
    lines.push(
      `  ${mode.padEnd(13)} ${meanStd(s.testAccuracy, 100).padStart(16)} ${meanStd(s.testLabelCrossEntropy, 1, 3).padStart(21)} ${(s.validationRationaleCrossEntropy ? meanStd(s.validationRationaleCrossEntropy, 1, 3) : '-').padStart(13)} ${s.seconds.mean.toFixed(0).padStart(6)}`,
    );
  }
  if (c.difference)
    lines.push(
      `  step-by-step − standard: accuracy ${(c.difference.testAccuracy * 100).toFixed(2)} points, label CE ${c.difference.testLabelCrossEntropy.toFixed(3)} nats/char`,
    );
  return lines;
}

export const stepByStepCommand: CliCommand = {
  name: 'step-by-step',
  summary: 'Distilling step-by-step: collect CoT rationales, report teacher accuracy, build the predict/explain dataset',
  usage: `Usage: distillery step-by-step <config.json> [--json]

Collects (or replays) the teacher's few-shot chain-of-thought answers for the train and test
splits, parses them into rationale + label, reports the teacher's accuracy against gold, and writes
train/validation/test JSONL with "predict: " and "explain: " inputs (Hugging Face datasets loads
them as they are), rejected.jsonl (outputs that did not parse, with the reason) and report.json.
Resumes like \`distillery collect\`. With a "train" section it then trains from-scratch transformer
students on WebGPU, standard (labels only) vs step-by-step (labels + λ·rationales), same steps, over
seeds, and reports their test accuracy (greedy decoding of the predict task) and label
cross-entropy; each run resumes from its checkpoint under <output>/students/.

  --json   print the report as JSON

Config (JSON; see docs/black-box.md):
  data        {"dataset": "svamp"|"cqa", "dir"?: "path/to/release", "limit"?: N} (no dir: the copy
              vendored in @distillery/step-by-step: SVAMP whole, CQA test + its first 1,000 train rows)
              or {"train": "train.jsonl", "test"?: "test.jsonl"} with "preset"
  teacher     "recorded" (default for the release: PaLM's outputs) or a teacher spec
  preset      "arithmetic" | "multiple-choice" | "nli"     exemplars  [{input, rationale, label}]
  build       {labels: "teacher"|"gold", dropDisagreeing, validationFraction, seed}
  collect     {concurrency, timeoutMs, retry, rateLimit, budget, cache}
  train       {modes, seeds, rationaleWeight, epochs, batchSize, lr, model: {context, width,
              layers, heads, dropout}, evaluate: {limit, maxTokens}}    (see docs/black-box.md)
  output      folder for the results`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('step-by-step', argv, { json: { type: 'boolean' } });
    const path = configPathOf('step-by-step', positionals, io);
    const config = await readConfigFile(path);
    const progress = progressPrinter(io);
    const sigint = abortOnSigint();
    let current = '';
    let report;
    const trains = typeof config === 'object' && config !== null && 'train' in config;
    const acquired = trains ? await acquireDevice({ label: 'distillery-step-by-step' }) : undefined;
    let bar: { key: string; progress: Progress } | undefined;
    const runKey = (run: { mode: TrainingMode; seed: number }) => `${run.mode} seed ${run.seed}`;
    try {
      report = await runStepByStep(config, {
        baseDir: dirname(path),
        signal: sigint.signal,
        device: acquired?.device,
        onTrainStep: (run, e) => {
          if (bar?.key !== runKey(run)) {
            progress.done();
            bar = { key: runKey(run), progress: createProgress(io, `train ${runKey(run)}`.padEnd(26), e.totalSteps) };
          }
          bar.progress.update(e.step, `loss ${e.loss.toFixed(3)}`);
        },
        onTrainRun: (r) => {
          const line = `test accuracy ${percent(r.test.accuracy)}, label CE ${r.testLabelCrossEntropy.crossEntropy.toFixed(3)}, ${r.seconds.toFixed(0)}s, ${r.tokensPerSecond.toFixed(0)} tokens/s`;
          if (bar?.key === runKey(r)) bar.progress.finish(line);
          else io.stderr(`train ${runKey(r)}: ${line} (from an earlier run)\n`);
          bar = undefined;
        },
        onProgress: (split, p) => {
          if (split !== current) progress.done();
          current = split;
          progress.update(split, p);
        },
      });
    } finally {
      sigint.dispose();
      progress.done();
      acquired?.device.destroy();
    }
    if (values.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const lines = [`teacher ${report.teacher} on ${report.dataset} (${report.preset}): accuracy against gold`];
      for (const [split, s] of Object.entries(report.splits)) {
        const failures = Object.entries(s.accuracy.failures)
          .map(([reason, n]) => `${reason} ${n}`)
          .join(', ');
        lines.push(
          `  ${split.padEnd(5)} ${percent(s.accuracy.accuracy).padStart(7)}  (${s.accuracy.correct}/${s.accuracy.withGold}; ${s.accuracy.parsed} parsed${failures ? `; unparsed: ${failures}` : ''})`,
        );
      }
      if (report.build)
        lines.push(`dataset: ${report.build.train} train, ${report.build.validation} validation, ${report.build.rejected} rejected`);
      lines.push(`wrote ${report.files.join(', ')}`);
      if (!report.complete) lines.push('incomplete: some outputs are missing (see completions/*.errors.jsonl); rerun to resume');
      if (report.training !== 'not-configured') lines.push(...comparisonLines(report.training));
      io.stdout(`${lines.join('\n')}\n`);
    }
    return report.complete ? 0 : 1;
  },
};
