import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect } from 'vitest';
import { LlamaTokenizer } from '@distillery/gguf';
import { readGgufFile } from '@distillery/gguf/node';
import { LlamaLm } from '@distillery/nn';
import { loadModel, readModelState } from '@distillery/nn/node';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { releaseLmBatch, TokenWindows } from '@distillery/white-box';
import { runCli } from '../src/index.js';
import { formatComparisonTable, type LmComparisonResult } from '../src/distill/compare.js';
import { splitStories } from '../src/distill-lm/corpus.js';
import { vendored } from '../src/distill-lm/defaults.js';
import { evaluateHeldOut } from '../src/distill-lm/evaluate.js';
import { readMetricsRows } from '../src/distill/logs.js';
import { captureIO } from './capture-io.js';
import { STOP_PLUGIN } from './stop-plugin.js';

/** stories260K and the vendored excerpt's two validation stories, tokenised independently of the runner. */
async function vendoredHeldOut() {
  const gguf = await readGgufFile(vendored.teacher());
  const tokenizer = LlamaTokenizer.fromGguf(gguf);
  const stories = splitStories(await readFile(vendored.corpus(), 'utf8'), {
    separator: '<|endoftext|>',
    heldOutFraction: 0.1,
    evalStories: 2,
  });
  return { gguf, heldOut: { documents: stories.heldOut.map((s) => tokenizer.encode(s, { addBos: true })), vocab: tokenizer.vocabSize } };
}

/** The tiny LM config: 6 training stories, 2 held out, context 32, 4 steps (evaluated after 2 and 4). */
const tiny = {
  data: {
    train: { name: 'text', documents: 6 },
    validation: { name: 'text', split: 'validation', documents: 2 },
  },
  teacher: 'gguf',
  student: { name: 'llama', width: 32, layers: 1, heads: 2 },
  optimizer: { name: 'adamw', lr: 0.003 },
  training: { steps: 4, evaluateEverySteps: 2, context: 32, batchSize: 4 },
  sample: { maxTokens: 6 },
};

let root: string;

async function distill(config: object, name: string, args: string[] = []): Promise<{ code: number; io: ReturnType<typeof captureIO> }> {
  const file = join(root, `${name}.json`);
  await writeFile(file, JSON.stringify(config));
  const io = captureIO();
  const code = await runCli(['distill', file, '--json', ...args], io);
  return { code, io };
}

const weights = async (dir: string) => (await readModelState(join(dir, 'student.safetensors'))).tensors;

gpuDescribe('distillery distill on text (a language model)', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'distill-text-'));
    await writeFile(join(root, 'stop-plugin.mjs'), STOP_PLUGIN);
  });

  gpuTest(
    'distils stories260K into a small Llama; nats/token fall and match a float64 recomputation; the GGUF export runs the same',
    async ({ device }) => {
      const { code, io } = await distill(tiny, 'tiny');
      expect(code, io.err).toBe(0);
      const result = JSON.parse(io.out);
      const dir = join(root, 'tiny.run');
      expect(result.summary.steps).toBe(4);
      // Progress off a terminal: a line a tenth of the way (every step here) and one per evaluation.
      expect(io.err).toMatch(/distill +75% step 3\/4 /);
      expect(io.err).toMatch(/epoch 1 \(step 2\): crossEntropy \d/);
      const evaluations = (await readMetricsRows(join(dir, 'metrics.jsonl'))).filter((r) => r.type === 'evaluation');
      expect(evaluations.map((r) => r.step)).toEqual([2, 4]);
      const [first, last] = evaluations.map((r) => (r.metrics as Record<string, number>).crossEntropy!);
      expect(Number.isFinite(last)).toBe(true);
      expect(last).toBeLessThan(first!);
      expect(result.validation.crossEntropy).toBe(last);
      expect(result.validation.perplexity).toBeCloseTo(Math.exp(last!), 6);
      expect(result.validation.teacherAgreement).toBeGreaterThanOrEqual(0);
      // The teacher's own nats on the same documents: the floor, far below an untrained-ish student's.
      expect(result.lm.teacher.validation.crossEntropy).toBeLessThan(last! - 1);
      expect(result.lm.sample.text.startsWith('Once upon a time')).toBe(true);

      // Recompute the held-out nats in float64 from the saved model and an independent tokenisation.
      const { heldOut } = await vendoredHeldOut();
      const windows = new TokenWindows(device, heldOut, { context: 32, sequences: 1, seed: 0 });
      const saved = (await loadModel(device, join(dir, 'student.safetensors'))) as LlamaLm;
      expect(saved).toBeInstanceOf(LlamaLm);
      const { metrics } = await evaluateHeldOut(saved, windows, 4);
      expect(metrics.tokens).toBe(result.validation.tokens);
      expect(metrics.nats).toBeCloseTo(last!, 5);

      // student.gguf: readable, and llama-on-WebGPU from it gives the trained student's logits.
      const exported = LlamaLm.fromGguf(device, await readGgufFile(join(dir, 'student.gguf')), { context: 32 });
      const batch = windows.orderedBatch(0, 2);
      try {
        const a = await readFloat32(await saved.forward(batch, { training: false }));
        const b = await readFloat32(await exported.forward(batch, { training: false }));
        expect(b.length).toBe(a.length);
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        expect(worst).toBeLessThan(1e-4);
      } finally {
        releaseLmBatch(batch);
        exported.release();
        saved.release();
      }
      expect(existsSync(join(dir, 'hf', 'config.json'))).toBe(true);
      expect(existsSync(join(dir, 'hf', 'model.safetensors'))).toBe(true);
      for (const svg of ['curves-loss.svg', 'curves-evaluation.svg']) expect(existsSync(join(dir, svg))).toBe(true);
    },
  );

  gpuTest('a run stopped after step 2 resumes to the same weights as the uninterrupted one', async () => {
    const stopped = await distill({ ...tiny, plugins: ['./stop-plugin.mjs'], callbacks: [{ name: 'stop-after', step: 2 }] }, 'stopped');
    expect(stopped.code, stopped.io.err).toBe(0);
    expect(JSON.parse(stopped.io.out).summary).toMatchObject({ steps: 2, stopped: true });
    const resumed = await distill(tiny, 'stopped');
    expect(resumed.code, resumed.io.err).toBe(0);
    expect(resumed.io.err).toContain('resuming at step 2/4');
    expect(JSON.parse(resumed.io.out).summary).toMatchObject({ steps: 4, stopped: false });
    const [straight, again] = await Promise.all([weights(join(root, 'tiny.run')), weights(join(root, 'stopped.run'))]);
    expect(Object.keys(again)).toEqual(Object.keys(straight));
    for (const name of Object.keys(straight))
      expect(Array.from(again[name]!.data as Float32Array)).toEqual(Array.from(straight[name]!.data as Float32Array));
  });

  gpuTest('trains from scratch without a teacher (the vendored tokenizer), with no teacher metrics', async () => {
    const { teacher: _teacher, ...scratch } = tiny;
    const { code, io } = await distill({ ...scratch, training: { ...tiny.training, steps: 2, evaluateEverySteps: 2 } }, 'scratch');
    expect(code, io.err).toBe(0);
    const result = JSON.parse(io.out);
    expect(Number.isFinite(result.validation.crossEntropy)).toBe(true);
    expect(result.validation.teacherAgreement).toBeUndefined();
    expect(result.lm.teacher).toBeUndefined();
    expect((await readGgufFile(join(root, 'scratch.run', 'student.gguf'))).metadata['general.architecture']).toBe('llama');
    // Fine-tuning a GGUF student (the first test's export) without a teacher: its own tokenizer.
    const tuned = await distill(
      {
        ...scratch,
        student: { name: 'llama', path: 'tiny.run/student.gguf' },
        training: { ...tiny.training, steps: 2, evaluateEverySteps: 2 },
      },
      'tuned',
    );
    expect(tuned.code, tuned.io.err).toBe(0);
    const tunedResult = JSON.parse(tuned.io.out);
    const before = JSON.parse(await readFile(join(root, 'tiny.run', 'summary.json'), 'utf8'));
    expect(tunedResult.lm.parameters).toBe(before.parameters);
    // Two more steps from the distilled student's weights: below where it started.
    expect(tunedResult.validation.crossEntropy).toBeLessThan(before.validation.crossEntropy);
    const noLabels = await distill({ ...scratch, data: { ...tiny.data, useLabels: false } }, 'bad-scratch');
    expect(noLabels.code).toBe(2);
    expect(noLabels.io.err).toContain('data.useLabels');
  });

  gpuTest('bad input: unknown parts, wrong fields, a non-GGUF teacher, steps and epochs together, compare', async () => {
    const unknown = await distill({ ...tiny, teacher: 'gguff' }, 'bad-unknown');
    expect(unknown.code).toBe(2);
    expect(unknown.io.err).toContain('E_UNKNOWN_PLUGIN');
    expect(unknown.io.err).toMatch(/known teacher plugins: .*gguf/);

    const field = await distill({ ...tiny, student: { name: 'llama', widht: 32, layers: 1, heads: 2 } }, 'bad-field');
    expect(field.code).toBe(2);
    expect(field.io.err).toContain('student');
    expect(field.io.err).toContain('widht');

    await writeFile(join(root, 'not.gguf'), 'Once upon a time there was no GGUF here.\n');
    const corrupt = await distill({ ...tiny, teacher: { name: 'gguf', path: 'not.gguf' } }, 'bad-teacher');
    expect(corrupt.code).toBe(2);
    expect(corrupt.io.err).toContain('E_CORRUPT_FILE');
    expect(corrupt.io.err).toContain(join(root, 'not.gguf'));

    // A run that fails before writing anything leaves no folder behind.
    const missing = await distill({ ...tiny, data: { ...tiny.data, train: { name: 'text', path: 'nope.txt' } } }, 'bad-text');
    expect(missing.code).toBe(2);
    expect(missing.io.err).toContain('E_NOT_FOUND');
    expect(missing.io.err).toContain(join(root, 'nope.txt'));
    expect(existsSync(join(root, 'bad-text.run'))).toBe(false);

    const both = await distill({ ...tiny, training: { ...tiny.training, epochs: 1 } }, 'bad-both');
    expect(both.code).toBe(2);
    expect(both.io.err).toContain('training.steps');
    expect(both.io.err).toContain('exactly one of training.epochs');

    const compare = await distill({ ...tiny, compare: { seeds: [0], unlabelled: true } }, 'bad-compare');
    expect(compare.code).toBe(2);
    expect(compare.io.err).toContain('E_UNSUPPORTED');
    expect(compare.io.err).toContain('compare.unlabelled');
    expect(existsSync(join(root, 'bad-compare.run'))).toBe(false);
  });

  gpuTest('compare: per seed the distilled and the from-scratch student, the teacher row and the gap closed in nats/token', async () => {
    const config = {
      ...tiny,
      training: { ...tiny.training, steps: 2 },
      logs: { curves: false },
      compare: { seeds: [3, 4], scratch: true },
    };
    const { code, io } = await distill(config, 'compare');
    expect(code, io.err).toBe(0);
    const result = JSON.parse(io.out) as LmComparisonResult;
    expect(result.kind).toBe('text');
    expect(result.runDir).toBe(join(root, 'compare.run'));
    const summaries = await Promise.all(
      [3, 4].map(async (seed) => {
        const read = async (model: string) =>
          JSON.parse(await readFile(join(result.runDir, `seed-${seed}`, model, 'summary.json'), 'utf8'));
        const used = async (model: string) => JSON.parse(await readFile(join(result.runDir, `seed-${seed}`, model, 'config.json'), 'utf8'));
        return {
          seed,
          distilled: await read('distilled'),
          scratch: await read('scratch'),
          configs: [await used('distilled'), await used('scratch')],
        };
      }),
    );
    const teacher: number[] = [];
    const scratch: number[] = [];
    const distilled: number[] = [];
    for (const [i, s] of summaries.entries()) {
      // The same student and documents; the seed replaced; the scratch run with no teacher at all.
      expect(s.configs[0].seed).toBe(s.seed);
      expect(s.configs[1].seed).toBe(s.seed);
      expect(s.configs[0].teacher).toBe('gguf');
      expect(s.configs[1].teacher).toBeUndefined();
      expect(s.configs[1].student).toEqual(s.configs[0].student);
      expect(s.configs[1].data).toEqual(s.configs[0].data);
      expect(s.scratch.teacher).toBeUndefined();
      expect(s.scratch.validation.teacherAgreement).toBeUndefined();
      teacher.push(s.distilled.teacher.validation.crossEntropy);
      scratch.push(s.scratch.validation.crossEntropy);
      distilled.push(s.distilled.validation.crossEntropy);
      expect(result.models.teacher.crossEntropy[i]).toBe(teacher[i]);
      expect(result.models.scratch!.crossEntropy[i]).toBe(scratch[i]);
      expect(result.models.distilled.crossEntropy[i]).toBe(distilled[i]);
      expect(result.models.distilled.perplexity[i]).toBeCloseTo(Math.exp(distilled[i]!), 6);
      expect(io.err).toContain(`seed ${s.seed} student (scratch)`);
    }
    // The seeds differ (initialisation, window order): two runs, not one reported twice.
    expect(distilled[0]).not.toBe(distilled[1]);
    const mean = (xs: number[]) => (xs[0]! + xs[1]!) / 2;
    expect(result.models.scratch!.mean).toBeCloseTo(mean(scratch), 12);
    expect(result.recovered!.perSeed).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      expect(teacher[i]).toBeLessThan(scratch[i]!);
      expect(result.recovered!.perSeed[i]).toBeCloseTo((scratch[i]! - distilled[i]!) / (scratch[i]! - teacher[i]!), 12);
    }
    expect(result.recovered!.ofMeans).toBeCloseTo((mean(scratch) - mean(distilled)) / (mean(scratch) - mean(teacher)), 12);
    expect(result.improvement!.mean).toBeCloseTo(mean(scratch) - mean(distilled), 12);
    expect(result.improvement!.seedsImproved).toBe([0, 1].filter((i) => scratch[i]! > distilled[i]!).length);
    const table = formatComparisonTable(result);
    expect(table).toContain('nats/token (mean ± sd)');
    expect(table).toMatch(new RegExp(`^student, from scratch +${mean(scratch).toFixed(4)} ± `, 'm'));
    expect(table).toMatch(/teacher–scratch gap recovered by distillation: -?\d+% of the means/);
  });

  gpuTest(
    'compare with a cache teacher: the teacher row is the GGUF the cache is built from, on the validation documents',
    async ({ device }) => {
      const cache = { name: 'cache', dir: 'compare-cached.cache', build: { name: 'gguf' }, kind: 'topk', k: 8 };
      const config = {
        ...tiny,
        teacher: cache,
        training: { ...tiny.training, steps: 2, evaluateEverySteps: 2 },
        logs: { curves: false },
        compare: { seeds: [1, 2], scratch: true },
      };
      const { code, io } = await distill(config, 'compare-cached');
      expect(code, io.err).toBe(0);
      const result = JSON.parse(io.out) as LmComparisonResult;
      expect(result.setup.teacher).toContain('cache(');
      // Each seed's distilled run trained from the cache and reports the GGUF's own validation nats.
      const reported: number[] = [];
      for (const seed of [1, 2]) {
        const summary = JSON.parse(await readFile(join(result.runDir, `seed-${seed}`, 'distilled', 'summary.json'), 'utf8'));
        expect(summary.teacher.name).toMatch(/^cache:stories260K:top8:/);
        reported.push(summary.teacher.validation.crossEntropy);
        expect(summary.validation.teacherAgreement).toBeUndefined();
      }
      expect(result.models.teacher.crossEntropy).toEqual(reported);
      expect(result.models.teacher.perplexity[0]).toBeCloseTo(Math.exp(reported[0]!), 6);
      expect(io.err).toContain('seed 2 teacher');
      // The gap closed is measured against that row.
      const scratch = result.models.scratch!.crossEntropy;
      const distilled = result.models.distilled.crossEntropy;
      for (let i = 0; i < 2; i++)
        expect(result.recovered!.perSeed[i]).toBeCloseTo((scratch[i]! - distilled[i]!) / (scratch[i]! - reported[i]!), 12);

      // The same nats recomputed in float64 from stories260K itself over the validation documents.
      const { gguf, heldOut } = await vendoredHeldOut();
      const teacher = LlamaLm.fromGguf(device, gguf, { context: 32 });
      try {
        const { metrics } = await evaluateHeldOut(teacher, new TokenWindows(device, heldOut, { context: 32, sequences: 1, seed: 0 }), 4);
        for (const nats of reported) expect(nats).toBeCloseTo(metrics.nats, 5);
      } finally {
        teacher.release();
      }
    },
  );
});
