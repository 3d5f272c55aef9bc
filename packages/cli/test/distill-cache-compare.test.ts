import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { MlpClassifier } from '@distillery/nn';
import { saveModel } from '@distillery/nn/node';
import { bufferPool } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { evaluateClassifier, type ClassificationData } from '@distillery/white-box';
import { BUILD_LOCK_FILE } from '../src/distill/cache-build-lock.js';
import { isLmComparison, runDistillComparison } from '../src/distill/compare.js';
import { createDistillRegistry, runDistillConfig } from '../src/distill/run.js';
import { parseTable } from '../src/distill/tables.js';
import { captureIO } from './capture-io.js';

/** A small separable 3-class table: `rows` rows of 4 features. */
function table(rows: number, shift: number): string {
  const lines = Array.from({ length: rows }, (_, r) =>
    JSON.stringify({ features: [(r % 3) + shift, r / rows, (r * 7) % 5, 1], label: r % 3 }),
  );
  return `${lines.join('\n')}\n`;
}

async function fixture() {
  const root = await mkdtemp(join(tmpdir(), 'distill-cache-compare-'));
  await writeFile(join(root, 'train.jsonl'), table(30, 0));
  await writeFile(join(root, 'test.jsonl'), table(12, 0.5));
  return root;
}

const data = { train: { name: 'jsonl', path: 'train.jsonl' }, validation: { name: 'jsonl', path: 'test.jsonl' } };

gpuDescribe('a cache teacher in a comparison, its build teacher, its build lock', () => {
  gpuTest("compare: the teacher row is the cache's build model, measured; the no-labels run reuses the cache", async ({ device }) => {
    const root = await fixture();
    const teacherModel = MlpClassifier.create(device, { inputSize: 4, classes: 3, hidden: [8], seed: 3 });
    await saveModel(join(root, 'teacher.safetensors'), teacherModel);
    const config = {
      data,
      teacher: { name: 'cache', dir: 'cache', build: { name: 'model', path: 'teacher.safetensors' } },
      student: { name: 'mlp', hidden: [4] },
      training: { epochs: 1, batchSize: 10 },
      logs: { metrics: false, curves: false },
      compare: { seeds: [5], scratch: true, unlabelled: true },
    };
    const file = join(root, 'compare.json');
    await writeFile(file, JSON.stringify(config));
    const io = captureIO();
    const result = await runDistillComparison(config, file, { io });
    if (isLmComparison(result)) throw new Error('classifier data gave a text comparison');
    const test = parseTable(table(12, 0.5), { format: 'jsonl', path: 'test.jsonl', label: 'label' });
    const expected = await evaluateClassifier(teacherModel, test);
    expect(result.models.teacher.errors).toEqual([expected.errors]);
    expect(result.models.teacher.testError[0]).toBeCloseTo(expected.error, 12);
    expect(result.models.distilledUnlabelled?.testError).toHaveLength(1);
    expect(result.setup.teacher).toContain('cache');
    expect(io.err.match(/teacher cache: building/g)).toHaveLength(1);
    expect(io.err).toContain(`teacher cache: using ${join(root, 'cache')}`);
    expect(existsSync(join(root, 'cache', BUILD_LOCK_FILE))).toBe(false);
  });

  gpuTest("a trained build teacher's buffers are released once the cache is built", async ({ device }) => {
    const root = await fixture();
    const train: ClassificationData = parseTable(table(30, 0), { format: 'jsonl', path: 'train.jsonl', label: 'label' });
    const registry = createDistillRegistry();
    const io = captureIO();
    const context = { device, configDir: root, runDir: root, io, seed: 0, train };
    const pool = bufferPool(device);
    const before = pool.stats().bytesInUse;
    await registry.create(
      'teacher',
      { name: 'cache', dir: 'cache', build: { name: 'trained', hidden: [256], epochs: 1, batchSize: 10 } },
      { path: 'teacher', context },
    );
    expect(io.err).toContain('teacher cache 100% 30/30 rows');
    // Kept, the trained teacher holds ~78 kB here (weights, gradients, AdamW moments, activations); released, what
    // stays is less than its weights alone (4·256 + 256 + 256·3 + 3 floats): the teacher is gone.
    expect(pool.stats().bytesInUse - before).toBeLessThan((4 * 256 + 256 + 256 * 3 + 3) * 4);
  });

  gpuTest('a second builder of the same cache is refused before it builds anything', async () => {
    const root = await fixture();
    const config = {
      data,
      teacher: { name: 'cache', dir: 'cache', build: { name: 'trained', hidden: [8], epochs: 1, batchSize: 10 } },
      student: { name: 'mlp', hidden: [4] },
      training: { epochs: 1, batchSize: 10 },
      logs: { metrics: false, curves: false },
    };
    const cache = join(root, 'cache');
    await mkdir(cache);
    // This process stands for the other builder: a live pid on this host.
    await writeFile(
      join(cache, BUILD_LOCK_FILE),
      JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', target: join(cache, 'build') }),
    );
    const file = join(root, 'run.json');
    await writeFile(file, JSON.stringify(config));
    await expect(runDistillConfig(config, file, { io: captureIO() })).rejects.toMatchObject({
      code: 'E_LOCKED',
      details: { field: 'teacher.dir', value: cache, pid: process.pid },
    });
    expect(existsSync(join(cache, 'index.json'))).toBe(false);
  });
});
