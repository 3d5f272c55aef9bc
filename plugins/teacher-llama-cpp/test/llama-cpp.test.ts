import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, isDistilleryError, type BlackBoxTeacher } from '@distillery/core';
import { LlamaCppTeacher, LlamaCppTopKTeacher, plugins } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = resolve(here, '..');
/** The tiny GGUF model: DISTILLERY_GGUF, or <repo>/../shared/models/stories260K.gguf. */
const modelPath = process.env.DISTILLERY_GGUF ?? resolve(packageRoot, '../../../shared/models/stories260K.gguf');
const haveModel = existsSync(modelPath);
if (!haveModel) console.warn(`skipping llama.cpp tests: no model at ${modelPath} (set DISTILLERY_GGUF)`);

describe('package entry', () => {
  it('exports plugin definitions a registry can load by package name', async () => {
    const registry = createRegistry();
    const names = await registry.loadPackage('@distillery/plugin-teacher-llama-cpp', () => import('../src/index.js'));
    expect(names).toEqual(['teacher/llama-cpp', 'teacher/llama-cpp-topk']);
    expect(plugins.every((p) => p.kind === 'teacher')).toBe(true);
  });

  it('validates the config with field paths', async () => {
    const registry = createRegistry().register(...plugins);
    const error = await registry
      .create('teacher', { name: 'llama-cpp', modelPath: 'x.gguf', threads: 'many', extra: 1 }, { path: 'teacher' })
      .catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('teacher.threads: expected number, got "many"');
    expect((error as Error).message).toContain('no key "extra"');
  });

  it('reports a missing model file as E_NOT_FOUND naming the path', async () => {
    const error = await LlamaCppTeacher.load({ modelPath: '/nonexistent/model.gguf' }).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain('/nonexistent/model.gguf');
  });

  it('CJS build: require() works without loading node-llama-cpp, which load() then imports lazily', async () => {
    const cjs = resolve(packageRoot, 'dist/index.cjs');
    if (!existsSync(cjs)) return; // built by `turbo run test` (test depends on build)
    const text = await readFile(cjs, 'utf8');
    expect(text).not.toMatch(/require\(["']node-llama-cpp["']\)/);
    expect(text).toMatch(/import\(["']node-llama-cpp["']\)/);
    const script = `
      const m = require(${JSON.stringify(cjs)});
      const out = { plugins: m.plugins.map((p) => p.name) };
      const model = ${JSON.stringify(haveModel ? modelPath : '')};
      (model ? m.LlamaCppTeacher.load({ modelPath: model, contextSize: 64 }).then(async (t) => {
        out.text = (await t.complete({ prompt: 'Once upon a time', maxTokens: 3 })).text;
        await t.dispose();
      }) : Promise.resolve()).then(() => console.log(JSON.stringify(out)));`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      plugins: ['llama-cpp', 'llama-cpp-topk'],
      ...(haveModel ? { text: ', there was' } : {}),
    });
  });
});

describe.skipIf(!haveModel)('LlamaCppTeacher on stories260K.gguf', () => {
  let teacher: LlamaCppTeacher;

  beforeAll(async () => {
    teacher = await LlamaCppTeacher.load({ modelPath, contextSize: 256, sequences: 2 });
  });
  afterAll(async () => {
    await teacher?.dispose();
  });

  it('loads with threads <= cores, a 512-token vocabulary and the file name as its name', () => {
    expect(teacher.name).toBe('stories260K');
    expect(teacher.vocabSize).toBe(512);
    expect(teacher.threads).toBeGreaterThanOrEqual(1);
    expect(teacher.kind).toBe('black-box');
  });

  it('completes a prompt greedily and deterministically', async () => {
    const a = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 12 });
    const b = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 12 });
    expect(a.text).toBe(', there was a little girl named Lily. She');
    expect(b).toEqual(a);
    expect(a.finishReason).toBe('length');
    expect(a.usage).toEqual({ promptTokens: 5, completionTokens: 12 });
  });

  it('gives per-token log-probabilities with sorted top alternatives that match the text', async () => {
    const c = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 8, topLogprobs: 5 });
    expect(c.tokens).toHaveLength(8);
    expect(c.tokens!.map((t) => t.token).join('')).toBe(c.text);
    for (const t of c.tokens!) {
      expect(t.top).toHaveLength(5);
      // Greedy: the chosen token is the most likely one.
      expect(t.top[0]!.token).toBe(t.token);
      expect(t.top[0]!.logprob).toBeCloseTo(t.logprob, 10);
      for (let i = 1; i < t.top.length; i++) expect(t.top[i]!.logprob).toBeLessThanOrEqual(t.top[i - 1]!.logprob);
      expect(t.top.reduce((s, a) => s + Math.exp(a.logprob), 0)).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it('samples reproducibly with a seed at temperature > 0', async () => {
    const a = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 16, temperature: 1, seed: 7 });
    const b = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 16, temperature: 1, seed: 7 });
    const others = await Promise.all(
      [1, 2, 3, 4].map((seed) => teacher.complete({ prompt: 'Once upon a time', maxTokens: 16, temperature: 1, seed })),
    );
    expect(b.text).toBe(a.text);
    expect(new Set([a.text, ...others.map((o) => o.text)]).size).toBeGreaterThan(1);
  });

  it('stops at a stop sequence and reports finishReason stop', async () => {
    const c = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 30, stop: ['Lily'] });
    expect(c.text).toBe(', there was a little girl named ');
    expect(c.finishReason).toBe('stop');
  });

  it('answers chat messages through a chat template', async () => {
    const c = await teacher.complete({
      messages: [
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Tell me a story.' },
      ],
      maxTokens: 10,
    });
    expect(c.text.length).toBeGreaterThan(0);
    expect(c.usage!.promptTokens).toBeGreaterThan(8);
  });

  it('serves parallel requests on its sequences with the same answers as serial ones', async () => {
    const prompts = ['Once upon a time', 'The cat', 'Tom and Sue', 'One day', 'The sun'];
    const serial: string[] = [];
    for (const prompt of prompts) serial.push((await teacher.complete({ prompt, maxTokens: 10 })).text);
    const parallel = await Promise.all(prompts.map((prompt) => teacher.complete({ prompt, maxTokens: 10 })));
    expect(parallel.map((c) => c.text)).toEqual(serial);
  });

  it('rejects prompts longer than the context and honours an aborted signal', async () => {
    const long = await teacher.complete({ prompt: 'the cat sat on the mat '.repeat(200), maxTokens: 4 }).catch((e: unknown) => e);
    expect(isDistilleryError(long, 'E_BAD_VALUE')).toBe(true);
    const controller = new AbortController();
    controller.abort();
    const stopped = await teacher.complete({ prompt: 'Once', maxTokens: 4 }, { signal: controller.signal }).catch((e: unknown) => e);
    expect(isDistilleryError(stopped, 'E_ABORTED')).toBe(true);
  });

  it('gives white-box top-k targets under teacher forcing that agree with greedy decoding', async () => {
    const prompt = teacher.tokenize('Once upon a time');
    const greedy = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 3 });
    const continued = teacher.tokenize(`Once upon a time${greedy.text}`);
    const k = 6;
    const targets = await teacher.topK([prompt, continued], k);
    const rows = prompt.length + continued.length;
    expect(targets.indices.shape).toEqual([rows, k]);
    expect(targets.logprobs.shape).toEqual([rows, k]);
    expect(targets.tailMass!.shape).toEqual([rows]);
    const idx = targets.indices.data as Int32Array;
    const lp = targets.logprobs.data as Float32Array;
    const tail = targets.tailMass!.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(idx.subarray(r * k, r * k + k));
      expect(new Set(row).size).toBe(k);
      for (const id of row) {
        expect(id).toBeGreaterThanOrEqual(0);
        expect(id).toBeLessThan(512);
      }
      let mass = 0;
      for (let j = 0; j < k; j++) {
        if (j > 0) expect(lp[r * k + j]!).toBeLessThanOrEqual(lp[r * k + j - 1]!);
        mass += Math.exp(lp[r * k + j]!);
      }
      expect(tail[r]!).toBeCloseTo(1 - mass, 5);
    }
    // The row after the last prompt token predicts the first generated token.
    const firstGenerated = continued[prompt.length]!;
    expect(idx[(prompt.length - 1) * k]).toBe(firstGenerated);
    // Teacher forcing on the continued sequence: its greedy tokens are the generated ones.
    for (let t = prompt.length - 1; t < continued.length - 1; t++) expect(idx[(prompt.length + t) * k]).toBe(continued[t + 1]);

    const white = new LlamaCppTopKTeacher(teacher, k);
    expect(white.vocabSize).toBe(512);
    const same = await white.targets({ inputIds: [prompt] });
    expect(Array.from(same.indices.data)).toEqual(Array.from(idx.subarray(0, prompt.length * k)));
  });

  it('is created by name from a registry config', async () => {
    const registry = createRegistry().register(...plugins);
    const made = await registry.create<BlackBoxTeacher & { dispose(): Promise<void> }>('teacher', {
      name: 'llama-cpp',
      modelPath,
      contextSize: 128,
      teacherName: 'tiny',
    });
    expect(made.name).toBe('tiny');
    expect((await made.complete({ prompt: 'Once upon a time', maxTokens: 4 })).text).toBe(', there was a');
    await made.dispose();
  });
});
