import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TeacherCacheReader, TeacherCacheWriter } from '../src/node.js';

const ROWS = 10;
const VOCAB = 4;

/** A dense cache of 10 rows × 4 logits (row r, entry v = r + v / 10) in shards of 4 rows. */
async function build(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cache-integrity-'));
  const writer = await TeacherCacheWriter.open({ dir, kind: 'dense', rows: ROWS, vocab: VOCAB, teacher: 't', rowsPerShard: 4 });
  while (!writer.complete) {
    const first = writer.nextRow;
    const rows = Math.min(4, ROWS - first);
    await writer.appendShard({
      kind: 'dense',
      rows,
      vocab: VOCAB,
      logits: Float32Array.from({ length: rows * VOCAB }, (_, i) => first + Math.floor(i / VOCAB) + (i % VOCAB) / 10),
    });
  }
  return dir;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an index being tampered with has no type
type LooseIndex = Record<string, any>;

async function editIndex(dir: string, edit: (index: LooseIndex) => void): Promise<void> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as LooseIndex;
  edit(index);
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

describe('teacher cache integrity (no GPU)', () => {
  it('reads back what was written', async () => {
    const reader = await TeacherCacheReader.open(await build());
    const rows = await reader.readRows([9, 0]);
    expect(rows.kind === 'dense' && Array.from(rows.logits)).toEqual([9, 9.1, 9.2, 9.3, 0, 0.1, 0.2, 0.3].map(Math.fround));
  });

  it('a 1-bit flip in a shard is caught with default options before any of its rows is returned', async () => {
    const dir = await build();
    const shard = join(dir, 'shard-00001.bin');
    const bytes = await readFile(shard);
    bytes[5] = bytes[5]! ^ 0x01;
    await writeFile(shard, bytes);
    const reader = await TeacherCacheReader.open(dir);
    // Untouched shards still read.
    expect((await reader.readRows([0, 9])).rows).toBe(2);
    await expect(reader.readRows([5])).rejects.toMatchObject({ code: 'E_CORRUPT_FILE', details: { field: 'shard-00001.bin' } });
    await expect(TeacherCacheReader.open(dir, { verify: true })).rejects.toMatchObject({
      code: 'E_CORRUPT_FILE',
      details: { field: 'shard-00001.bin' },
    });
  });

  it('an index whose numbers disagree with its shards is refused (vocab 9, rowsPerShard, firstRow)', async () => {
    const cases: [string, (index: LooseIndex) => void, string][] = [
      ['vocab 9', (i) => void (i.vocab = 9), 'shards[0].bytes'],
      ['vocab 0', (i) => void (i.vocab = 0), 'vocab'],
      ['rowsPerShard 3', (i) => void (i.rowsPerShard = 3), 'shards[0].rows'],
      ['rowsPerShard 0', (i) => void (i.rowsPerShard = 0), 'rowsPerShard'],
      ['firstRow', (i) => void (i.shards[1].firstRow = 3), 'shards[1].firstRow'],
      ['kind', (i) => void (i.kind = 'sparse'), 'kind'],
      ['shards not an array', (i) => void (i.shards = {}), 'shards'],
      ['sha256', (i) => void (i.shards[0].sha256 = 'abc'), 'shards[0].sha256'],
    ];
    for (const [name, edit, field] of cases) {
      const dir = await build();
      await editIndex(dir, edit);
      await expect(TeacherCacheReader.open(dir), name).rejects.toMatchObject({ code: 'E_CORRUPT_FILE', details: { field } });
    }
  });

  it('shard names are confined to the cache folder', async () => {
    for (const file of ['../outside.bin', '/etc/passwd', 'sub/../../x.bin', '..', '']) {
      const dir = await build();
      // A file of exactly the recorded size next to the cache: it must never be read.
      await writeFile(join(dir, '..', 'outside.bin'), new Uint8Array(64));
      await editIndex(dir, (i) => void (i.shards[0].file = file));
      await expect(TeacherCacheReader.open(dir), file).rejects.toMatchObject({
        code: 'E_CORRUPT_FILE',
        details: { field: 'shards[0].file' },
      });
    }
  });

  it('a cache written before CRC32s existed still opens and reads (sizes still checked)', async () => {
    const dir = await build();
    await editIndex(dir, (i) => {
      for (const s of i.shards) delete s.crc32;
    });
    const reader = await TeacherCacheReader.open(dir, { verify: true });
    expect((await reader.readRows([4])).rows).toBe(1);
  });
});
