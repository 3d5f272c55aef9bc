import { mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferPool, readFloat32, readTensor, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { Rng, type WhiteBoxTeacher } from '@distillery/core';
import { CachedTeacher, topKFromLogits, type TransferBatch } from '../src/index.js';
import { buildTeacherCache, TeacherCacheReader, TeacherCacheWriter } from '../src/node.js';

const ROWS = 250;
const VOCAB = 13;

function table(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: ROWS * VOCAB }, () => rng.normal() * 3);
}

/** A teacher whose logits are a fixed table indexed by example id. */
function tableTeacher(device: GPUDevice, logits: Float32Array): WhiteBoxTeacher<TransferBatch, GpuTensor> & { calls: number } {
  const teacher = {
    kind: 'white-box' as const,
    name: 'table',
    vocabSize: VOCAB,
    calls: 0,
    async targets(batch: TransferBatch) {
      teacher.calls++;
      const rows = new Float32Array(batch.rows * VOCAB);
      batch.ids.forEach((id, i) => rows.set(logits.subarray(id * VOCAB, (id + 1) * VOCAB), i * VOCAB));
      return {
        kind: 'dense' as const,
        logits: uploadTensor(device, { shape: [batch.rows, VOCAB], dtype: 'f32', data: rows }, 'table-logits'),
      };
    },
  };
  return teacher;
}

const batchOf =
  (device: GPUDevice) =>
  async (ids: Uint32Array): Promise<TransferBatch> => ({
    inputs: uploadTensor(device, { shape: [ids.length, 1], dtype: 'f32', data: new Float32Array(ids.length) }, 'unused'),
    rows: ids.length,
    ids,
  });

describe('top-k compaction', () => {
  it('keeps the k largest log-probabilities and the exact tail mass', () => {
    const logits = table(1);
    const top = topKFromLogits(logits, ROWS, VOCAB, 4);
    for (const r of [0, 17, ROWS - 1]) {
      const row = Array.from(logits.subarray(r * VOCAB, (r + 1) * VOCAB));
      const lse = Math.log(row.reduce((s, z) => s + Math.exp(z), 0));
      const sorted = row.map((z, v) => [z - lse, v] as const).sort((a, b) => b[0] - a[0]);
      expect(Array.from(top.indices.subarray(r * 4, r * 4 + 4))).toEqual(sorted.slice(0, 4).map(([, v]) => v));
      expect(top.logprobs[r * 4]!).toBeCloseTo(sorted[0]![0], 5);
      const tail = sorted.slice(4).reduce((s, [lp]) => s + Math.exp(lp), 0);
      expect(top.tailMass[r]!).toBeCloseTo(tail, 5);
    }
  });
});

gpuDescribe('offline teacher cache', () => {
  gpuTest('dense: the cached teacher returns exactly the live teacher targets, by id, in any order', async ({ device }) => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-dense-'));
    const logits = table(2);
    const live = tableTeacher(device, logits);
    await buildTeacherCache({ dir, teacher: live, rows: ROWS, batchOf: batchOf(device), kind: 'dense', rowsPerShard: 64, batchSize: 50 });
    const cached = new CachedTeacher(await TeacherCacheReader.open(dir, { verify: true }), device);
    expect(cached.vocabSize).toBe(VOCAB);
    const ids = Uint32Array.from([249, 0, 63, 64, 128, 7]);
    const batch = await batchOf(device)(ids);
    const fromCache = await cached.targets(batch);
    const fromLive = await live.targets(batch);
    expect(fromCache.kind).toBe('dense');
    if (fromCache.kind !== 'dense' || fromLive.kind !== 'dense') return;
    expect(Array.from(await readFloat32(fromCache.logits))).toEqual(Array.from(await readFloat32(fromLive.logits)));
    // Each call hands the previous call's upload back to the pool: a long run holds one step's targets.
    const inUse = bufferPool(device).stats().bytesInUse;
    for (let step = 0; step < 5; step++) await cached.targets(batch);
    expect(bufferPool(device).stats().bytesInUse).toBe(inUse);
  });

  gpuTest('top-k: indices, log-probabilities and tail mass come back as GPU tensors', async ({ device }) => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-topk-'));
    const logits = table(3);
    await buildTeacherCache({
      dir,
      teacher: tableTeacher(device, logits),
      rows: ROWS,
      batchOf: batchOf(device),
      kind: 'topk',
      k: 3,
      rowsPerShard: 100,
    });
    const reader = await TeacherCacheReader.open(dir);
    const targets = await new CachedTeacher(reader, device).targets(await batchOf(device)(Uint32Array.from([5, 199])));
    expect(targets.kind).toBe('topk');
    if (targets.kind !== 'topk') return;
    const want = topKFromLogits(logits.subarray(5 * VOCAB, 6 * VOCAB), 1, VOCAB, 3);
    expect(Array.from((await readTensor(targets.indices)).data).slice(0, 3)).toEqual(Array.from(want.indices));
    expect((await readFloat32(targets.tailMass!))[0]).toBeCloseTo(want.tailMass[0]!, 6);
  });

  gpuTest('a crashed build resumes after the last complete shard and calls the teacher only for the rest', async ({ device }) => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-resume-'));
    const logits = table(4);
    const writer = await TeacherCacheWriter.open({ dir, kind: 'dense', rows: ROWS, vocab: VOCAB, teacher: 'table', rowsPerShard: 64 });
    await writer.appendShard({ kind: 'dense', rows: 64, vocab: VOCAB, logits: logits.slice(0, 64 * VOCAB) });
    // A shard file half-written when the process died: not in the index, so it is redone.
    await writeFile(join(dir, 'shard-00001.bin'), new Uint8Array(10));
    await expect(TeacherCacheReader.open(dir)).rejects.toMatchObject({ code: 'E_CORRUPT_FILE' });
    const live = tableTeacher(device, logits);
    await buildTeacherCache({ dir, teacher: live, rows: ROWS, batchOf: batchOf(device), kind: 'dense', rowsPerShard: 64, batchSize: 64 });
    expect(live.calls).toBe(3); // rows 64..249 only
    const rows = await (await TeacherCacheReader.open(dir, { verify: true })).readRows([0, 100, 249]);
    expect(rows.kind === 'dense' && Array.from(rows.logits.subarray(VOCAB, 2 * VOCAB))).toEqual(
      Array.from(logits.subarray(100 * VOCAB, 101 * VOCAB)),
    );
  });

  gpuTest('truncated or tampered shards and mismatched rebuilds are clear errors', async ({ device }) => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-corrupt-'));
    await buildTeacherCache({
      dir,
      teacher: tableTeacher(device, table(5)),
      rows: ROWS,
      batchOf: batchOf(device),
      kind: 'dense',
      rowsPerShard: 128,
    });
    await expect(
      TeacherCacheWriter.open({ dir, kind: 'dense', rows: ROWS, vocab: VOCAB + 1, teacher: 'table', rowsPerShard: 128 }),
    ).rejects.toThrowError(/vocab = 13, not 14/);
    const shard = join(dir, 'shard-00001.bin');
    const bytes = await readFile(shard);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(shard, bytes);
    await expect(TeacherCacheReader.open(dir, { verify: true })).rejects.toThrowError(/SHA-256/);
    await truncate(shard, 100);
    await expect(TeacherCacheReader.open(dir)).rejects.toThrowError(/shard-00001.bin is 100 bytes/);
    await expect(TeacherCacheReader.open(join(dir, 'nope'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
