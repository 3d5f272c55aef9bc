import { resolve } from 'node:path';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { createDistillRegistry, readConfigFile, runDistillConfig } from '../distill/run.js';
import { distillJsonSchema } from '../distill/schema.js';
import { badValue, parseConfig } from '@distillery/core';
import { formatComparisonTable, runDistillComparison } from '../distill/compare.js';
import { distillConfigSchema } from '../distill/config.js';

export const distillCommand: CliCommand = {
  name: 'distill',
  summary: 'Run the distillation a JSON/YAML config describes: teacher, student, data, loss, optimiser, evaluation, checkpoints, logs',
  usage: `Usage: distillery distill <config.json|config.yaml> [--no-resume] [--output DIR] [--json]
       distillery distill --print-schema

One file describes the run (see examples/mnist/distill.json and docs/getting-started.md); every
part resolves by name through the plugin registry, and \`plugins\` in the file adds packages' parts.
The run folder (default <config name>.run beside the file) receives checkpoint.safetensors,
metrics.jsonl and metrics.csv (one row per step and per evaluation), curves-*.svg, the exported
student (student.safetensors) and summary.json. With text data (the \`text\` dataset, a \`gguf\`
teacher, a \`llama\` student; examples/tinystories/distill.json) it trains a language model:
validation in nats/token, the student also exported as student.gguf and hf/. Rerunning the same command resumes from the
checkpoint; a finished run reports its final metrics again. A config with \`compare\` (seeds, and
the scratch / no-labels baselines) runs once per seed and model in seed-N/… run folders and prints
\`distillery demo\`'s table: test errors and the share of the teacher–scratch gap distillation recovers
(text data: validation nats/token, the scratch baseline only; examples/tinystories/compare.json).
  --no-resume      start over, ignoring (and replacing) the run folder's checkpoint; a trained teacher is reused
  --output DIR     the run folder (overrides \`output\` in the config)
  --json           print the summary as one JSON object
  --print-schema   print the config's JSON Schema (packages/cli/distill.schema.json)`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      'distill',
      argv,
      { 'no-resume': { type: 'boolean' }, output: { type: 'string' }, json: { type: 'boolean' }, 'print-schema': { type: 'boolean' } },
      true,
    );
    if (values['print-schema']) {
      io.stdout(`${JSON.stringify(distillJsonSchema(createDistillRegistry()), null, 2)}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw badValue('config', positionals, 'exactly one config file (JSON or YAML)');
    const path = resolve(io.cwd, positionals[0]!);
    const raw = await readConfigFile(path);
    const runOptions = {
      io,
      fresh: values['no-resume'] === true,
      output: typeof values.output === 'string' ? resolve(io.cwd, values.output) : undefined,
    };
    if (parseConfig(distillConfigSchema, raw).compare) {
      const comparison = await runDistillComparison(raw, path, runOptions);
      io.stdout(values.json ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparisonTable(comparison));
      return 0;
    }
    const result = await runDistillConfig(raw, path, runOptions);
    if (values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const metrics = result.validation
        ? Object.entries(result.validation)
            .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : Number(Number(v).toPrecision(4))}`)
            .join(', ')
        : 'no validation data';
      const teacherNats = result.lm?.teacher?.validation?.crossEntropy;
      const lm = result.lm
        ? `${teacherNats !== undefined ? `teacher (${result.lm.teacher!.name}) validation: crossEntropy ${Number(teacherNats.toPrecision(4))}\n` : ''}sample: ${JSON.stringify(result.lm.sample.text)}\n`
        : '';
      io.stdout(
        `run folder: ${result.runDir}\nsteps: ${result.summary.steps}${result.summary.stopped ? ' (stopped early)' : ''}\nvalidation: ${metrics}\n${lm}files: ${result.files.join(', ')}\n`,
      );
    }
    return 0;
  },
};
