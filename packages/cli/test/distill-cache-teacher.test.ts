import { mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { MlpClassifier } from '@distillery/nn';
import { loadModel, readModelState, saveModel } from '@distillery/nn/node';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { ModelTeacher, uploadBatch, type CacheIndex, type ClassificationData } from '@distillery/white-box';
import { TeacherCacheReader, TeacherCacheWriter } from '@distillery/white-box/node';
import { loadMnist } from '../src/data/mnist.js';
import { readMetricsRows } from '../src/distill/logs.js';
import { runDistillConfig } from '../src/distill/run.js';
import { captureIO } from './capture-io.js';

/** Writes `config` into `dir` and runs it; the run folder is `output` beside it. */
async function run(dir: string, config: Record<string, unknown>, output: string) {
  const io = captureIO();
  const file = join(dir, `${output}.json`);
  await writeFile(file, JSON.stringify(config));
  const result = await runDistillConfig(config, file, { io });
  return { ...result, stderr: io.err };
}

const mnist = { name: 'mnist', limitPerClass: 20 };
const base = {
  data: { train: mnist, validation: { ...mnist, split: 'test' } },
  student: { name: 'mlp', hidden: [16] },
  loss: { temperature: 3, hardWeight: 0.2 },
  training: { epochs: 2, batchSize: 20 },
  logs: { metrics: true, curves: false },
};

const stepLosses = async (runDir: string) =>
  (await readMetricsRows(join(runDir, 'metrics.jsonl'))).filter((r) => r.type === 'step').map((r) => r.loss as number);

async function expectSameRun(a: string, b: string) {
  const [la, lb] = [await stepLosses(a), await stepLosses(b)];
  expect(lb).toHaveLength(la.length);
  lb.forEach((loss, i) => expect(loss).toBeCloseTo(la[i]!, 5));
  const [wa, wb] = [await readModelState(join(a, 'student.safetensors')), await readModelState(join(b, 'student.safetensors'))];
  for (const name of Object.keys(wa.tensors)) {
    const [x, y] = [wa.tensors[name]!.data as Float32Array, wb.tensors[name]!.data as Float32Array];
    expect(Math.max(...x.map((v, i) => Math.abs(v - y[i]!))), name).toBeLessThan(1e-5);
  }
}

/** The teacher's logits for every training row, read back from a live forward pass. */
async function teacherLogits(device: GPUDevice, path: string, data: ClassificationData): Promise<Float32Array> {
  const model = await loadModel(device, path);
  if (!(model instanceof MlpClassifier)) throw new Error(`${path} is not a classifier`);
  const teacher = new ModelTeacher(model);
  const targets = await teacher.targets(
    uploadBatch(
      device,
      data,
      Uint32Array.from({ length: data.rows }, (_, i) => i),
      false,
    ),
  );
  if (targets.kind !== 'dense') throw new Error('a model teacher gives dense targets');
  return readFloat32(targets.logits);
}

const shardHashes = async (dir: string) =>
  (JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as CacheIndex).shards.map((s) => s.sha256);

gpuDescribe('distill with a cached teacher', () => {
  gpuTest(
    'dense: trains exactly as the live teacher and is reused without loading it; top-k: the teacher log-probs, resumable',
    async ({ device }) => {
      const root = await mkdtemp(join(tmpdir(), 'distill-cache-'));
      const live = await run(root, { ...base, teacher: { name: 'trained', hidden: [32], epochs: 2, batchSize: 20 } }, 'live');
      const teacherFile = join(root, 'teacher.safetensors');
      await rename(join(live.runDir, 'teacher.safetensors'), teacherFile);
      const build = { name: 'model', path: 'teacher.safetensors' };

      const dense = await run(root, { ...base, teacher: { name: 'cache', dir: 'dense-cache', build } }, 'dense');
      expect(dense.stderr).toContain(`teacher cache: building ${join(root, 'dense-cache')} (dense, teacher model:teacher.safetensors)`);
      expect(dense.stderr).toContain('teacher cache 100% 160/160 rows');
      await expectSameRun(live.runDir, dense.runDir);
      // The same validation metrics, less the agreement with the teacher: the cache holds training rows only.
      const { teacherAgreement, ...liveMetrics } = live.validation!;
      expect(teacherAgreement).toBeGreaterThan(0);
      expect(Object.keys(dense.validation!)).not.toContain('teacherAgreement');
      for (const [name, value] of Object.entries(liveMetrics)) expect(dense.validation![name], name).toBeCloseTo(value, 5);
      const data = (await loadMnist(undefined, { limitPerClass: 20 })).train;
      const logits = await teacherLogits(device, teacherFile, data);
      const cached = await (
        await TeacherCacheReader.open(join(root, 'dense-cache'), { verify: true })
      ).readRows(Array.from({ length: data.rows }, (_, i) => i));
      expect(cached.kind === 'dense' && Math.max(...cached.logits.map((v, i) => Math.abs(v - logits[i]!)))).toBeLessThan(1e-5);

      // A complete cache is used as it is: the build teacher's file is not even read.
      await rename(teacherFile, `${teacherFile}.moved`);
      const reused = await run(root, { ...base, teacher: { name: 'cache', dir: 'dense-cache', build } }, 'reused');
      expect(reused.stderr).toContain(`teacher cache: using ${join(root, 'dense-cache')} (dense`);
      expect(reused.stderr).not.toContain('building');
      await expectSameRun(dense.runDir, reused.runDir);
      await rename(`${teacherFile}.moved`, teacherFile);

      // Top-k: the cache holds log-softmax's k largest entries of the teacher's logits (float64 on the host).
      const topk = { name: 'cache', dir: 'topk-cache', build, kind: 'topk', k: 3, rowsPerShard: 64 };
      const first = await run(root, { ...base, teacher: topk }, 'topk');
      expect(first.summary.steps).toBe(16);
      expect((await stepLosses(first.runDir)).every(Number.isFinite)).toBe(true);
      const rows = await (await TeacherCacheReader.open(join(root, 'topk-cache'), { verify: true })).readRows([0, 63, 64, 159]);
      if (rows.kind !== 'topk') throw new Error('expected a top-k cache');
      [0, 63, 64, 159].forEach((id, at) => {
        const row = Array.from(logits.subarray(id * 10, id * 10 + 10));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
        const sorted = row.map((z, v) => ({ v, lp: z - lse })).sort((a, b) => b.lp - a.lp);
        expect(Array.from(rows.indices.subarray(at * 3, at * 3 + 3))).toEqual(sorted.slice(0, 3).map((e) => e.v));
        sorted.slice(0, 3).forEach((e, j) => expect(rows.logprobs[at * 3 + j]!).toBeCloseTo(e.lp, 5));
        expect(rows.tailMass[at]!).toBeCloseTo(
          sorted.slice(3).reduce((s, e) => s + Math.exp(e.lp), 0),
          5,
        );
      });

      // A build killed after two of its three shards: the index lists two (the third may be half-written).
      const indexFile = join(root, 'topk-cache', 'index.json');
      const complete = JSON.parse(await readFile(indexFile, 'utf8')) as CacheIndex;
      await writeFile(indexFile, JSON.stringify({ ...complete, shards: complete.shards.slice(0, 2) }));
      await writeFile(join(root, 'topk-cache', 'shard-00002.bin'), new Uint8Array(7));
      const resumed = await run(root, { ...base, teacher: topk }, 'topk-resumed');
      expect(resumed.stderr).toContain(`resuming the build of ${join(root, 'topk-cache')} at row 128/160`);
      expect(await shardHashes(join(root, 'topk-cache'))).toEqual(complete.shards.map((s) => s.sha256));
      await expectSameRun(first.runDir, resumed.runDir);
    },
  );

  gpuTest(
    'bad input: a missing cache, k ≥ classes, a teacher of other classes, a cache of other data, rows or classes',
    async ({ device }) => {
      const root = await mkdtemp(join(tmpdir(), 'distill-cache-bad-'));
      const table = async (name: string, rows: number, shift: number) => {
        const lines = Array.from({ length: rows }, (_, r) => JSON.stringify({ features: [r, shift, r % 3, 1], label: r % 3 }));
        await writeFile(join(root, name), `${lines.join('\n')}\n`);
        return { name: 'jsonl', path: name };
      };
      const [d20, other20, d24] = [await table('a.jsonl', 20, 0), await table('b.jsonl', 20, 1), await table('c.jsonl', 24, 0)];
      const saveTeacher = async (file: string, classes: number) => {
        await saveModel(join(root, file), MlpClassifier.create(device, { inputSize: 4, classes, hidden: [4], seed: 1 }));
        return { name: 'model', path: file };
      };
      const [three, otherThree, five] = [
        await saveTeacher('t3.safetensors', 3),
        await saveTeacher('t3b.safetensors', 3),
        await saveTeacher('t5.safetensors', 5),
      ];
      const cfg = (train: unknown, teacher: Record<string, unknown>) => ({
        data: { train },
        teacher: { name: 'cache', ...teacher },
        student: { name: 'mlp', hidden: [4] },
        training: { epochs: 1, batchSize: 10 },
        logs: { metrics: false, curves: false },
      });
      const fails = (config: Record<string, unknown>) => run(root, config, 'bad');
      const dir = join(root, 'cache');

      await expect(fails(cfg(d20, { dir: 'cache' }))).rejects.toMatchObject({
        code: 'E_NOT_FOUND',
        message: expect.stringContaining(`no teacher cache at ${dir}`),
        details: { field: 'teacher.dir', value: dir },
      });
      await expect(fails(cfg(d20, { dir: 'cache', build: three, kind: 'topk', k: 3 }))).rejects.toMatchObject({
        code: 'E_BAD_VALUE',
        details: { field: 'teacher.k', value: 3 },
      });
      await expect(fails(cfg(d20, { dir: 'cache', build: five }))).rejects.toMatchObject({
        code: 'E_BAD_VALUE',
        message: expect.stringContaining("the training data's 3 classes (it has 5)"),
        details: { field: 'teacher.build' },
      });

      await run(root, cfg(d20, { dir: 'cache', build: three }), 'good');
      await expect(fails(cfg(other20, { dir: 'cache' }))).rejects.toMatchObject({
        code: 'E_BAD_CONFIG',
        message: expect.stringMatching(
          /was built from other training data .*delete the folder to rebuild it, or set another `teacher.dir`/,
        ),
        details: { field: 'teacher.dir', value: dir },
      });
      await expect(fails(cfg(d20, { dir: 'cache', build: otherThree }))).rejects.toMatchObject({
        code: 'E_BAD_CONFIG',
        message: expect.stringContaining('t3.safetensors'),
        details: { field: 'teacher.build' },
      });
      await expect(fails(cfg(d24, { dir: 'cache' }))).rejects.toMatchObject({
        code: 'E_SHAPE_MISMATCH',
        message: expect.stringContaining(`teacher cache ${dir} holds 20 rows, but the training data has 24`),
        details: { field: 'teacher.dir', value: dir },
      });
      await expect(fails(cfg({ ...d20, classes: 4 }, { dir: 'cache' }))).rejects.toMatchObject({
        code: 'E_SHAPE_MISMATCH',
        message: expect.stringContaining('over 3 classes, but the training data has 4'),
      });
      await expect(fails(cfg(d20, { dir: 'cache', kind: 'topk', k: 2 }))).rejects.toMatchObject({
        code: 'E_BAD_CONFIG',
        details: { field: 'teacher.kind', value: 'topk', cached: 'dense' },
      });

      // A build killed before its first shard, run again without `build`.
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as CacheIndex;
      await writeFile(join(dir, 'index.json'), JSON.stringify({ ...index, shards: [] }));
      await expect(fails(cfg(d20, { dir: 'cache' }))).rejects.toMatchObject({
        code: 'E_CORRUPT_FILE',
        message: expect.stringContaining(`teacher cache ${dir} is incomplete (0 of 20 rows): add \`teacher.build\``),
        details: { field: 'teacher.dir', value: dir },
      });

      // A folder a language-model run's cache teacher built, and a source.json that is not one.
      await writeFile(join(dir, 'source.json'), JSON.stringify({ format: 'distillery-distill-lm-cache-source/1' }));
      await expect(fails(cfg(d20, { dir: 'cache', build: three }))).rejects.toMatchObject({
        code: 'E_BAD_CONFIG',
        message: expect.stringContaining('was built from text windows (a language model), not feature rows (a classifier)'),
        details: { field: 'teacher.dir', value: dir },
      });
      await writeFile(join(dir, 'source.json'), '{ not json');
      await expect(fails(cfg(d20, { dir: 'cache', build: three }))).rejects.toMatchObject({
        code: 'E_CORRUPT_FILE',
        details: { field: 'teacher.dir', value: dir, file: join(dir, 'source.json') },
      });

      // A cache written by the library (no source.json) whose k is the whole vocabulary.
      const full = await TeacherCacheWriter.open({ dir: join(root, 'full'), kind: 'topk', rows: 20, vocab: 3, k: 3, teacher: 'x' });
      await full.appendShard({
        kind: 'topk',
        rows: 20,
        k: 3,
        indices: new Int32Array(60).map((_, i) => i % 3),
        logprobs: new Float32Array(60).fill(Math.log(1 / 3)),
        tailMass: new Float32Array(20),
      });
      await expect(fails(cfg(d20, { dir: 'full' }))).rejects.toMatchObject({
        code: 'E_BAD_VALUE',
        message: expect.stringContaining('k < 3 classes (it has k = 3'),
        details: { field: 'teacher.dir', value: join(root, 'full') },
      });
    },
  );
});
