import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import type { CachedRows } from '../src/index.js';
import { mergeCacheParts, TeacherCacheReader, TeacherCacheWriter, writeCachePart } from '../src/node.js';

const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../../examples/scale-out/write_cache_shard.py');
const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;
if (!python) console.warn('skipping the Python cache writer test: python3 is not installed');

const ROWS = 10;
const VOCAB = 50;
const K = 4;
const PER_SHARD = 3;
const header = { kind: 'topk' as const, rows: ROWS, vocab: VOCAB, k: K, teacher: 'synthetic', rowsPerShard: PER_SHARD };

/** The rows `write_cache_shard.py --synthetic` writes (values exact in float32). */
function syntheticTopk(row: number): { ids: number[]; logprobs: number[]; tail: number } {
  return {
    ids: Array.from({ length: K }, (_, j) => (row * 5 + j) % VOCAB),
    logprobs: Array.from({ length: K }, (_, j) => -((row * 7 + j * 3) % 11) / 4 - 1),
    tail: (row % 4) / 8,
  };
}

function shardRows(shard: number): CachedRows {
  const first = shard * PER_SHARD;
  const n = Math.min(PER_SHARD, ROWS - first);
  const rows = Array.from({ length: n }, (_, i) => syntheticTopk(first + i));
  return {
    kind: 'topk',
    rows: n,
    k: K,
    indices: Int32Array.from(rows.flatMap((r) => r.ids)),
    logprobs: Float32Array.from(rows.flatMap((r) => r.logprobs)),
    tailMass: Float32Array.from(rows.map((r) => r.tail)),
  };
}

const temp = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

async function expectSynthetic(dir: string): Promise<void> {
  const reader = await TeacherCacheReader.open(dir, { verify: true });
  const ids = Array.from({ length: ROWS }, (_, i) => ROWS - 1 - i);
  const rows = await reader.readRows(ids);
  if (rows.kind !== 'topk') throw new Error('expected topk');
  ids.forEach((row, at) => {
    const want = syntheticTopk(row);
    expect(Array.from(rows.indices.subarray(at * K, (at + 1) * K))).toEqual(want.ids);
    expect(Array.from(rows.logprobs.subarray(at * K, (at + 1) * K))).toEqual(want.logprobs);
    expect(rows.tailMass[at]).toBe(want.tail);
  });
}

describe('teacher cache parts merged into one cache', () => {
  it('merges parts from TypeScript, reports duplicated and missing shards, refuses damaged or disagreeing parts', async () => {
    const a = await temp('part-a-');
    const b = await temp('part-b-');
    const c = await temp('part-c-');
    await writeCachePart({ dir: a, header, shards: [0, 1].map((s) => ({ shard: s, rows: shardRows(s) })) });
    await writeCachePart({ dir: b, header, shards: [1, 2].map((s) => ({ shard: s, rows: shardRows(s) })) });
    await writeCachePart({ dir: c, header, shards: [{ shard: 3, rows: shardRows(3) }] });

    const partial = await mergeCacheParts({ parts: [a, b], out: await temp('merged-') });
    expect(partial.complete).toBe(false);
    expect(partial.missing).toEqual([{ shard: 3, firstRow: 9, endRow: 10 }]);

    const out = join(await temp('merged-'), 'cache');
    const report = await mergeCacheParts({ parts: [a, b, c], out });
    expect(report).toMatchObject({ complete: true, shards: 4, rows: ROWS, missing: [] });
    expect(report.duplicated).toEqual([{ shard: 1, parts: [a, b] }]);
    await expectSynthetic(out);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { shards: { crc32: number }[] };
    expect(index.shards.every((s) => typeof s.crc32 === 'number')).toBe(true);
    // Merging into a folder that already holds a cache is refused.
    expect(isDistilleryError(await mergeCacheParts({ parts: [a, b, c], out }).catch((e: unknown) => e), 'E_BAD_CONFIG')).toBe(true);

    // A shard damaged in transfer: its SHA-256 no longer matches.
    const shard = join(c, 'shard-00003.bin');
    const bytes = await readFile(shard);
    bytes[5] = bytes[5]! ^ 1;
    await writeFile(shard, bytes);
    const damaged = await mergeCacheParts({ parts: [a, b, c], out: await temp('merged-') }).catch((e: unknown) => e);
    expect(isDistilleryError(damaged, 'E_CORRUPT_FILE')).toBe(true);
    expect((damaged as Error).message).toContain('shard-00003.bin');

    // Two parts with different bytes for the same shard, and parts of different caches.
    const d = await temp('part-d-');
    const other = shardRows(2);
    if (other.kind === 'topk') other.logprobs[0] = -9;
    await writeCachePart({ dir: d, header, shards: [{ shard: 2, rows: other }] });
    const conflict = await mergeCacheParts({ parts: [b, d], out: await temp('merged-') }).catch((e: unknown) => e);
    expect(isDistilleryError(conflict, 'E_CORRUPT_FILE')).toBe(true);
    expect((conflict as Error).message).toContain('shard 2');
    const e = await temp('part-e-');
    await writeCachePart({ dir: e, header: { ...header, teacher: 'another' }, shards: [{ shard: 3, rows: shardRows(3) }] });
    const mixed = await mergeCacheParts({ parts: [a, e], out: await temp('merged-') }).catch((err: unknown) => err);
    expect(isDistilleryError(mixed, 'E_BAD_CONFIG')).toBe(true);
    expect((mixed as Error).message).toContain('teacher');
  });

  it('accepts a complete cache as a part (index.json) next to new parts', async () => {
    const whole = await temp('whole-');
    const writer = await TeacherCacheWriter.open({ dir: whole, ...header });
    for (let s = 0; s < 4; s++) await writer.appendShard(shardRows(s));
    const out = join(await temp('merged-'), 'cache');
    expect((await mergeCacheParts({ parts: [whole], out })).complete).toBe(true);
    await expectSynthetic(out);
  });

  it.skipIf(!python)(
    'the Python reference writer (examples/scale-out/write_cache_shard.py) writes parts that merge with TypeScript ones',
    async () => {
      const ts = await temp('part-ts-');
      await writeCachePart({ dir: ts, header, shards: [0, 1].map((s) => ({ shard: s, rows: shardRows(s) })) });
      const py = await temp('part-py-');
      execFileSync(
        python!,
        [
          script,
          '--out',
          py,
          '--kind',
          'topk',
          '--rows',
          String(ROWS),
          '--vocab',
          String(VOCAB),
          '--k',
          String(K),
          '--teacher',
          'synthetic',
          '--rows-per-shard',
          String(PER_SHARD),
          '--shards',
          '1,2,3',
          '--synthetic',
        ],
        { stdio: 'pipe' },
      );
      const out = join(await temp('merged-'), 'cache');
      const report = await mergeCacheParts({ parts: [ts, py], out });
      // Shard 1 came from both writers: identical bytes, so the formats agree exactly.
      expect(report).toMatchObject({ complete: true, duplicated: [{ shard: 1, parts: [ts, py] }] });
      await expectSynthetic(out);

      // Dense rows too.
      const dense = await temp('part-dense-');
      execFileSync(
        python!,
        [
          script,
          '--out',
          dense,
          '--kind',
          'dense',
          '--rows',
          '5',
          '--vocab',
          '6',
          '--teacher',
          'd',
          '--rows-per-shard',
          '2',
          '--shards',
          '0,1,2',
          '--synthetic',
        ],
        { stdio: 'pipe' },
      );
      const denseOut = join(await temp('merged-'), 'cache');
      expect((await mergeCacheParts({ parts: [dense], out: denseOut })).complete).toBe(true);
      const reader = await TeacherCacheReader.open(denseOut, { verify: true });
      const rows = await reader.readRows([4, 0]);
      if (rows.kind !== 'dense') throw new Error('expected dense');
      const logit = (row: number, v: number) => (((row * 7 + v * 3) % 11) - 5) / 4;
      expect(Array.from(rows.logits)).toEqual([
        ...Array.from({ length: 6 }, (_, v) => logit(4, v)),
        ...Array.from({ length: 6 }, (_, v) => logit(0, v)),
      ]);
    },
  );
});
