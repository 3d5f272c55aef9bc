import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { acquireDevice } from '@distillery/webgpu';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { createProgress, type Progress } from '../progress.js';
import { quickSettings, readDistillLmConfig } from '../distill-lm/config.js';
import { runDistillLm } from '../distill-lm/experiment.js';
import { createLlamaKit } from '../distill-lm/llama-kit.js';
import { formatReportText } from '../distill-lm/report.js';
import { abortOnSigint, configPathOf } from './collect.js';

export const distillLmCommand: CliCommand = {
  name: 'distill-lm',
  summary: 'Distil a Llama GGUF teacher (default stories260K) into smaller Llama students on TinyStories; export them as GGUF',
  usage: `Usage: distillery distill-lm <config.json> [--quick] [--out DIR] [--json]

Teacher GGUF in, student GGUF out. Loads the teacher (default: the vendored stories260K.gguf) on
WebGPU with its tokenizer, splits the corpus (default: the vendored TinyStories excerpt) into
stories on "<|endoftext|>" and holds the last 10 % out (stories260K saw them in pre-training: the
held-out text is new to the students only), then trains every student size with every method for
the same number of steps, over seeds:
  scratch         hard next-token cross-entropy
  kd              dense logit KD from the in-process WebGPU teacher (temperature, + hard CE)
  kd-topk-cache   KD from an offline top-k cache built by the teacher on llama.cpp (DistillKit's setup)
  kd-hidden       KD + hidden-state matching through a learned projection
and reports held-out nats/token (the teacher's too), top-1 agreement with the teacher, training time
and a greedy sample of each. Each run lives in <out>/runs/<size>/<method>/seed-<n>/ (checkpoint,
model, result.json): a rerun resumes or reads finished runs back. The best student of each size
(or every one) is written as student.gguf and hf/ (safetensors + config.json) and checked in
node-llama-cpp. Writes <out>/results.json and <out>/results.md.

  --quick     one seed, the first student, a few steps on a corpus slice (a CI smoke run, not a result)
  --out DIR   output folder (default: the config's "output", relative to the config; with --quick,
              that folder's name + "-quick", so a smoke run never mixes with a real one)
  --json      print the report as JSON

Config (JSON; see docs/distill-lm.md): teacher, corpus {path, separator, heldOutFraction, trainStories,
evalStories}, context, students [{name, width, layers, heads, kvHeads, ffn}], methods, seeds, steps,
sequences, optimizer {lr, warmupSteps, finalLrFraction, weightDecay, clipNorm}, kd {temperature,
hardWeight}, topk {k, threads}, hidden {student, teacher, loss, weight}, evaluate {sequences, prompt,
sampleTokens}, export {which: all|best|none, verify}, checkpointEvery, output`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('distill-lm', argv, {
      quick: { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
    });
    const path = configPathOf('distill-lm', positionals, io);
    const full = await readDistillLmConfig(path);
    const quick = values.quick === true;
    const settings = quick ? quickSettings(full) : full;
    const baseDir = dirname(path);
    const out = typeof values.out === 'string' ? resolve(io.cwd, values.out) : undefined;
    const { device, info } = await acquireDevice({ label: 'distillery-distill-lm' });
    const sigint = abortOnSigint();
    let bar: { key: string; progress: Progress } | undefined;
    const log = (line: string) => io.stderr(`${line}\n`);
    let report;
    try {
      report = await runDistillLm({
        settings,
        baseDir,
        out,
        quick,
        adapter: `${[info.vendor, info.architecture, info.device].filter(Boolean).join(' ')} (${info.backend})`,
        createKit: (teacherPath, context) => createLlamaKit(device, teacherPath, context),
        log,
        signal: sigint.signal,
        onStep: (run, e) => {
          const key = `${run.size} ${run.method} seed ${run.seed}`;
          if (bar?.key !== key) bar = { key, progress: createProgress(io, key.padEnd(30), e.totalSteps) };
          bar.progress.update(e.step, `loss ${e.loss.toFixed(3)}`);
        },
        onRun: (r, fresh) => {
          const key = `${r.size} ${r.method} seed ${r.seed}`;
          const line = `held-out ${r.heldOut.nats.toFixed(4)} nats/token, agreement ${((r.heldOut.agreement ?? 0) * 100).toFixed(1)} %, ${r.seconds.toFixed(0)} s`;
          if (bar?.key === key) bar.progress.finish(line);
          else log(`${key.padEnd(30)} ${line}${fresh ? '' : ' (read back)'}`);
          bar = undefined;
        },
      });
    } finally {
      sigint.dispose();
      device.destroy();
    }
    if (values.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      io.stdout(formatReportText(report));
      const gguf = report.exports.find((e) => e.gguf)?.gguf;
      // Relative to where the command ran when inside it, else absolute.
      const shown = (p: string) => {
        const r = relative(io.cwd, p);
        return r === '' ? '.' : r.startsWith('..') || isAbsolute(r) ? p : r;
      };
      io.stdout(
        `teacher GGUF → student GGUF: distillery distill-lm ${shown(path)}${quick ? ' --quick' : ''}${out ? ` --out ${shown(out)}` : ''}${gguf ? `  →  ${shown(gguf)}` : ''}\n`,
      );
      io.stdout(`wrote ${shown(report.output)}/results.json and results.md\n`);
    }
    return 0;
  },
};
