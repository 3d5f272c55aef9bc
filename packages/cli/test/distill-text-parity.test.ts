import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, expect } from 'vitest';
import { LlamaTokenizer } from '@distillery/gguf';
import { readGgufFile } from '@distillery/gguf/node';
import { LlamaLm } from '@distillery/nn';
import { readModelState } from '@distillery/nn/node';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { releaseLmBatch, TokenWindows } from '@distillery/white-box';
import { TeacherCacheReader } from '@distillery/white-box/node';
import { runCli } from '../src/index.js';
import { splitStories } from '../src/distill-lm/corpus.js';
import { vendored } from '../src/distill-lm/defaults.js';
import { distillConfigSchema } from '../src/distill/config.js';
import { readMetricsRows } from '../src/distill/logs.js';
import { captureIO } from './capture-io.js';
import { STOP_PLUGIN } from './stop-plugin.js';

/*
 * What `distillery distill` on text shares with `distillery distill-lm`: the fused head, hidden-state
 * matching, the offline top-k cache and the llama.cpp check of the exported GGUF. Tiny runs: 4
 * training stories, context 16, 2 steps of 2 sequences, no validation.
 */

const tiny = {
  data: { train: { name: 'text', documents: 4 } },
  teacher: 'gguf',
  student: { name: 'llama', width: 32, layers: 1, heads: 2 },
  optimizer: { name: 'adamw', lr: 0.003 },
  training: { steps: 2, context: 16, batchSize: 2 },
  sample: { maxTokens: 4 },
  logs: { metrics: true, curves: false },
};

let root: string;

async function distill(config: object, name: string): Promise<{ code: number; io: ReturnType<typeof captureIO>; dir: string }> {
  const file = join(root, `${name}.json`);
  await writeFile(file, JSON.stringify(config));
  const io = captureIO();
  const code = await runCli(['distill', file, '--json'], io);
  return { code, io, dir: join(root, `${name}.run`) };
}

async function ok(config: object, name: string) {
  const run = await distill(config, name);
  expect(run.code, run.io.err).toBe(0);
  return run;
}

const weights = async (dir: string) => (await readModelState(join(dir, 'student.safetensors'))).tensors;

async function maxWeightDiff(a: string, b: string): Promise<{ diff: number; scale: number }> {
  const [x, y] = await Promise.all([weights(a), weights(b)]);
  expect(Object.keys(y)).toEqual(Object.keys(x));
  let diff = 0;
  let scale = 0;
  for (const name of Object.keys(x)) {
    const p = x[name]!.data as Float32Array;
    const q = y[name]!.data as Float32Array;
    for (let i = 0; i < p.length; i++) {
      diff = Math.max(diff, Math.abs(p[i]! - q[i]!));
      scale = Math.max(scale, Math.abs(p[i]!));
    }
  }
  return { diff, scale };
}

const steps = async (dir: string) => (await readMetricsRows(join(dir, 'metrics.jsonl'))).filter((r) => r.type === 'step');

gpuDescribe('distillery distill on text: what distill-lm had', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'distill-text-parity-'));
    await writeFile(join(root, 'stop-plugin.mjs'), STOP_PLUGIN);
  });

  gpuTest('training.fusedHead: the same weights as the unfused head after 2 steps; refused without a teacher', async () => {
    const plain = await ok(tiny, 'plain');
    const fused = await ok({ ...tiny, training: { ...tiny.training, fusedHead: { chunkRows: 8 } } }, 'fused');
    const { diff, scale } = await maxWeightDiff(plain.dir, fused.dir);
    expect(scale).toBeGreaterThan(0.01);
    expect(diff).toBeLessThan(1e-4);
    const [a, b] = [await steps(plain.dir), await steps(fused.dir)];
    expect(b[1]!.loss as number).toBeCloseTo(a[1]!.loss as number, 3);
    const { teacher: _t, ...scratch } = tiny;
    const refused = await distill({ ...scratch, training: { ...tiny.training, fusedHead: true } }, 'bad-fused');
    expect(refused.code).toBe(2);
    expect(refused.io.err).toContain('training.fusedHead');
  });

  gpuTest('loss.hidden: the term enters the loss linearly in its weight; weight 0 trains as without it; resume is exact', async () => {
    // One step per "epoch", so that a callback can stop the run after step 1.
    const hidden = (weight: number) => ({
      ...tiny,
      training: { ...tiny.training, evaluateEverySteps: 1 },
      loss: { hidden: { student: 'blocks.0', teacher: 'norm', loss: 'mse', weight } },
    });
    const plain = await ok(tiny, 'hidden-none');
    const [zero, one, two] = [
      await ok(hidden(0), 'hidden-0'),
      await ok(hidden(1), 'hidden-1'),
      await ok({ ...hidden(2), logs: { curves: true } }, 'hidden-2'),
    ];
    // The weight is a schedule like the others, drawn to a file name without its ':'.
    expect(existsSync(join(two.dir, 'curves-hidden-weight.svg'))).toBe(true);
    const rows = await Promise.all([plain, zero, one, two].map((r) => steps(r.dir)));
    const [p, z, a, b] = [rows[0]!, rows[1]!, rows[2]!, rows[3]!];
    // Step 1 starts from the same weights and projection: the hidden term adds weight × its value.
    const term = (a[0]!.terms as Record<string, number>).hidden!;
    expect(term).toBeGreaterThan(0);
    expect((a[0]!.loss as number) - (z[0]!.loss as number)).toBeCloseTo(term, 4);
    expect((b[0]!.loss as number) - (z[0]!.loss as number)).toBeCloseTo(2 * term, 4);
    expect(z[0]!.loss as number).toBeCloseTo(p[0]!.loss as number, 5);
    expect((await maxWeightDiff(plain.dir, zero.dir)).diff).toBeLessThan(1e-6);
    expect((await maxWeightDiff(plain.dir, one.dir)).diff).toBeGreaterThan(1e-4);

    const stopped = await distill(
      { ...hidden(1), plugins: ['./stop-plugin.mjs'], callbacks: [{ name: 'stop-after', step: 1 }] },
      'hidden-stop',
    );
    expect(stopped.code, stopped.io.err).toBe(0);
    const resumed = await ok(hidden(1), 'hidden-stop');
    expect(resumed.io.err).toContain('resuming at step 1/2');
    const [straight, again] = await Promise.all([weights(one.dir), weights(resumed.dir)]);
    for (const name of Object.keys(straight))
      expect(Array.from(again[name]!.data as Float32Array)).toEqual(Array.from(straight[name]!.data as Float32Array));

    const unknown = await distill({ ...tiny, loss: { hidden: { student: 'blocks.7' } } }, 'bad-hidden');
    expect(unknown.code).toBe(2);
    expect(unknown.io.err).toContain('loss.hidden.student');
    expect(unknown.io.err).toContain('blocks.0');
  });

  gpuTest('export.verify: llama.cpp runs student.gguf like the WebGPU student; the check lands in summary.json', async () => {
    const run = await ok({ ...tiny, export: { verify: true } }, 'verify');
    const check = JSON.parse(run.io.out).lm.verify;
    expect(check.positions).toBeGreaterThan(20);
    expect(check.topK).toBe(64);
    expect(check.maxAbsLogprobDiff).toBeLessThan(1e-3);
    expect(check.sameText).toBe(true);
    expect(check.llamaCppText.startsWith('Once upon a time')).toBe(true);
    expect(JSON.parse(await readFile(join(run.dir, 'summary.json'), 'utf8')).verify).toEqual(check);
    expect(run.io.err).toMatch(/llama\.cpp runs .*student\.gguf: max \|Δ log p\|/);
  });

  gpuTest(
    'the cache teacher on text: top-k of the live teacher (WebGPU and llama.cpp builds), then training from it; refused for other windows',
    async ({ device }) => {
      const cache = (dir: string, extra: object = {}) => ({
        ...tiny,
        teacher: { name: 'cache', dir, build: { name: 'gguf' }, kind: 'topk', k: 32, ...extra },
      });
      const web = await ok(cache('cache-webgpu'), 'cache-webgpu');
      expect(web.io.err).toMatch(/teacher cache: building .*cache-webgpu \(top-32 over \d+ windows of 16 tokens, .* on WebGPU\)/);
      const result = JSON.parse(web.io.out);
      expect(result.summary.steps).toBe(2);
      expect(result.lm.teacher.name).toMatch(/^cache:stories260K:top32:ctx16$/);
      const cpp = await ok(cache('cache-cpp', { engine: 'llama-cpp' }), 'cache-cpp');
      expect(cpp.io.err).toContain('on llama.cpp, 1 thread(s)');

      // The live teacher, independently: tokenise, cut the same windows, log-softmax in float64.
      const vocabulary = LlamaTokenizer.fromGguf(await readGgufFile(vendored.teacher()));
      const stories = splitStories(await readFile(vendored.corpus(), 'utf8'), {
        separator: '<|endoftext|>',
        heldOutFraction: 0.1,
        trainStories: 4,
      });
      const corpus = { documents: stories.train.map((s) => vocabulary.encode(s, { addBos: true })), vocab: vocabulary.vocabSize };
      const windows = new TokenWindows(device, corpus, { context: 16, sequences: 1, seed: 0 });
      const ids = Array.from({ length: windows.windows }, (_, i) => i);
      const teacher = LlamaLm.fromGguf(device, await readGgufFile(vendored.teacher()), { context: 16 });
      const batch = windows.windowsBatch(ids);
      let logits: Float32Array;
      try {
        logits = await readFloat32(await teacher.forward(batch, { training: false }));
      } finally {
        releaseLmBatch(batch);
        teacher.release();
      }
      const V = corpus.vocab;
      const rows = ids.length * 16;
      const { labels } = windows.hostWindows(ids);
      const logSoftmax = (r: number) => {
        let max = -Infinity;
        for (let i = 0; i < V; i++) max = Math.max(max, logits[r * V + i]!);
        let sum = 0;
        for (let i = 0; i < V; i++) sum += Math.exp(logits[r * V + i]! - max);
        const lse = max + Math.log(sum);
        return Array.from({ length: V }, (_, v) => logits[r * V + v]! - lse);
      };
      const all = Uint32Array.from({ length: rows }, (_, i) => i);
      const [webRows, cppRows] = await Promise.all(
        ['cache-webgpu', 'cache-cpp'].map(async (d) => (await TeacherCacheReader.open(join(root, d))).readRows(all)),
      );
      let webWorst = 0;
      let cppWorst = 0;
      let labelled = 0;
      for (let r = 0; r < rows; r++) {
        if (labels[r] === -100) continue;
        labelled++;
        const live = logSoftmax(r);
        const kth = [...live].sort((a, b) => b - a)[31]!;
        for (let j = 0; j < 32; j++) {
          const w = webRows!.kind === 'topk' ? webRows!.indices[r * 32 + j]! : -1;
          // The WebGPU build's entries are the live top-32 (up to ties at the 32nd), with its log-probabilities.
          expect(live[w]!).toBeGreaterThanOrEqual(kth - 1e-5);
          webWorst = Math.max(webWorst, Math.abs((webRows as { logprobs: Float32Array }).logprobs[r * 32 + j]! - live[w]!));
          const c = (cppRows as { indices: Int32Array }).indices[r * 32 + j]!;
          const lp = (cppRows as { logprobs: Float32Array }).logprobs[r * 32 + j]!;
          if (lp > -12) cppWorst = Math.max(cppWorst, Math.abs(lp - live[c]!));
        }
      }
      expect(labelled).toBeGreaterThan(100);
      expect(webWorst).toBeLessThan(1e-4);
      expect(cppWorst).toBeLessThan(1e-2);

      // A rerun reads the cache back; other training windows are refused; no hidden states in a cache.
      const again = await ok(cache('cache-webgpu'), 'cache-webgpu-again');
      expect(again.io.err).toContain('teacher cache: using');
      expect(again.io.err).not.toContain('building');
      const other = await distill({ ...cache('cache-webgpu'), data: { train: { name: 'text', documents: 3 } } }, 'cache-other');
      expect(other.code).toBe(2);
      expect(other.io.err).toContain('built from other training windows');
      const hidden = await distill({ ...cache('cache-webgpu'), loss: { hidden: {} } }, 'cache-hidden');
      expect(hidden.code).toBe(2);
      expect(hidden.io.err).toContain('loss.hidden');

      // A killed build (its last shard of 64 windows never written) resumes to the same rows.
      const six = { ...cache('cache-resume'), data: { train: { name: 'text', documents: 6 } } };
      await ok(six, 'cache-resume');
      const dir = join(root, 'cache-resume');
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
      const kept = index.shards.length - 1;
      expect(kept).toBeGreaterThan(0);
      const last = join(dir, index.shards[kept].file as string);
      const whole = await readFile(last);
      await rm(last);
      await writeFile(join(dir, 'index.json'), JSON.stringify({ ...index, shards: index.shards.slice(0, kept) }));
      const resumed = await ok(six, 'cache-resume');
      expect(resumed.io.err).toContain(`cache-resume at window ${kept * 64}/`);
      expect(Buffer.compare(await readFile(last), whole)).toBe(0);
    },
  );

  gpuTest('examples/tinystories/distill-cached.json is a valid config', async () => {
    const example = JSON.parse(await readFile(resolve(__dirname, '../../../examples/tinystories/distill-cached.json'), 'utf8'));
    const config = distillConfigSchema.parse(example);
    expect(config.teacher).toMatchObject({ name: 'cache', engine: 'llama-cpp', kind: 'topk' });
    expect(config.training.fusedHead).toBe(true);
    expect(config.export.verify).toBe(true);
  });

  gpuTest('classifier data: the LM-only settings are refused by name', async () => {
    await writeFile(join(root, 'rows.jsonl'), '{"features":[0,1],"label":0}\n{"features":[1,0],"label":1}\n');
    const classifier = { data: { train: { name: 'jsonl', path: 'rows.jsonl' } }, student: 'mlp', training: { epochs: 1, batchSize: 2 } };
    for (const [extra, field] of [
      [{ loss: { hidden: {} } }, 'loss.hidden'],
      [{ training: { epochs: 1, fusedHead: true } }, 'training.fusedHead'],
      [{ export: { verify: true } }, 'export.verify'],
    ] as const) {
      const run = await distill({ ...classifier, ...extra }, 'classifier');
      expect(run.code, field).toBe(2);
      expect(run.io.err).toContain(field);
    }
  });
});
