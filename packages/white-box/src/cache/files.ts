import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError, badValue, requireInteger } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { bytesCrc32, fileCrc32, shardCorrupt, shardPath, validateCacheIndex } from './integrity.js';
import {
  CACHE_FORMAT,
  coveredRows,
  decodeRowInto,
  encodeRows,
  rowBytes,
  shardFileName,
  type CacheIndex,
  type CachedRows,
} from './format.js';

const corrupt = (dir: string, message: string, field = 'index.json') =>
  new DistilleryError('E_CORRUPT_FILE', `teacher cache ${dir}: ${message}`, { field, value: dir });

export async function readCacheIndex(dir: string): Promise<CacheIndex | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'index.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let index: CacheIndex;
  try {
    index = JSON.parse(text) as CacheIndex;
  } catch {
    throw corrupt(dir, 'index.json is not valid JSON');
  }
  if (index === null || typeof index !== 'object') throw corrupt(dir, 'index.json is not a JSON object');
  if (index.format !== CACHE_FORMAT) throw corrupt(dir, `index.json has format ${JSON.stringify(index.format)}, expected ${CACHE_FORMAT}`);
  validateCacheIndex(dir, index);
  return index;
}

export interface CacheWriterOptions {
  dir: string;
  kind: 'dense' | 'topk';
  rows: number;
  vocab: number;
  k?: number;
  teacher: string;
  rowsPerShard?: number;
}

/**
 * Writes a cache shard by shard. Each shard is written atomically and then recorded in the index
 * (also atomically), so a crash loses at most the shard in progress and `resume` continues after
 * the last recorded one.
 */
export class TeacherCacheWriter {
  private constructor(
    readonly dir: string,
    private index: CacheIndex,
  ) {}

  static async open(options: CacheWriterOptions): Promise<TeacherCacheWriter> {
    const { dir, kind, rows, vocab, teacher } = options;
    requireInteger('rows', rows, 1);
    requireInteger('vocab', vocab, 1);
    const rowsPerShard = requireInteger('rowsPerShard', options.rowsPerShard ?? 4096, 1);
    if (kind === 'topk') requireInteger('k', options.k ?? Number.NaN, 1, vocab);
    const fresh: CacheIndex = {
      format: CACHE_FORMAT,
      kind,
      rows,
      vocab,
      k: kind === 'topk' ? options.k : undefined,
      teacher,
      rowsPerShard,
      shards: [],
      createdAt: new Date().toISOString(),
    };
    const existing = await readCacheIndex(dir);
    if (existing) {
      for (const key of ['kind', 'rows', 'vocab', 'k', 'teacher', 'rowsPerShard'] as const) {
        if (existing[key] !== fresh[key]) {
          throw new DistilleryError(
            'E_BAD_CONFIG',
            `teacher cache ${dir} was built with ${key} = ${JSON.stringify(existing[key])}, not ${JSON.stringify(fresh[key])}; use another directory`,
            { field: key, value: fresh[key] },
          );
        }
      }
      return new TeacherCacheWriter(dir, existing);
    }
    await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(fresh, null, 2));
    return new TeacherCacheWriter(dir, fresh);
  }

  /** First row not yet written (where a resumed build continues). */
  get nextRow(): number {
    return coveredRows(this.index);
  }

  get complete(): boolean {
    return this.nextRow >= this.index.rows;
  }

  /** Appends the next shard; `rows` must start at `nextRow` and hold `rowsPerShard` rows (fewer for the last). */
  async appendShard(rows: CachedRows): Promise<void> {
    const expected = Math.min(this.index.rowsPerShard, this.index.rows - this.nextRow);
    if (rows.rows !== expected) throw badValue('rows.rows', rows.rows, `${expected} (the next shard's size)`);
    if (rows.kind !== this.index.kind) throw badValue('rows.kind', rows.kind, this.index.kind);
    const bytes = encodeRows(rows);
    if (bytes.byteLength !== expected * rowBytes(this.index))
      throw badValue('rows', bytes.byteLength, `${expected * rowBytes(this.index)} bytes`);
    const file = shardFileName(this.index.shards.length);
    await writeFileAtomic(join(this.dir, file), bytes);
    const shard = {
      file,
      firstRow: this.nextRow,
      rows: expected,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      crc32: bytesCrc32(bytes),
    };
    this.index = { ...this.index, shards: [...this.index.shards, shard] };
    await writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify(this.index, null, 2));
  }
}

/**
 * Random access to a complete cache by row id. Opening checks the index against itself and the files
 * (sizes, contiguous rows, names inside the folder); the first read from each shard checks its
 * CRC32 over the whole file before returning any row of it; `verify` also checks every shard's SHA-256 at open.
 */
export class TeacherCacheReader {
  readonly #checked = new Set<number>();

  private constructor(
    readonly dir: string,
    readonly index: CacheIndex,
  ) {}

  /** Opens and validates a cache: complete, every shard present with the recorded size (and hash, with `verify`). */
  static async open(dir: string, { verify = false } = {}): Promise<TeacherCacheReader> {
    const index = await readCacheIndex(dir);
    if (!index) throw new DistilleryError('E_NOT_FOUND', `no teacher cache at ${dir} (index.json missing)`, { field: 'dir', value: dir });
    if (coveredRows(index) !== index.rows)
      throw corrupt(dir, `incomplete: ${coveredRows(index)} of ${index.rows} rows written; rerun the cache build to finish it`);
    for (const shard of index.shards) {
      const path = shardPath(dir, shard.file);
      const size = await stat(path).then(
        (s) => (s.isFile() ? s.size : -2),
        () => -1,
      );
      if (size === -2) throw corrupt(dir, `${shard.file} is not a file`, shard.file);
      if (size !== shard.bytes)
        throw corrupt(dir, `${shard.file} is ${size < 0 ? 'missing' : `${size} bytes, expected ${shard.bytes}`} (truncated?)`, shard.file);
      if (verify) {
        const hash = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
        if (hash !== shard.sha256) throw corrupt(dir, `${shard.file} does not match its recorded SHA-256`, shard.file);
      }
    }
    return new TeacherCacheReader(dir, index);
  }

  /** Reads the targets of the given row ids, in that order. */
  async readRows(ids: ArrayLike<number>): Promise<CachedRows> {
    const { index } = this;
    const n = ids.length;
    const out: CachedRows =
      index.kind === 'dense'
        ? { kind: 'dense', rows: n, vocab: index.vocab, logits: new Float32Array(n * index.vocab) }
        : {
            kind: 'topk',
            rows: n,
            k: index.k!,
            indices: new Int32Array(n * index.k!),
            logprobs: new Float32Array(n * index.k!),
            tailMass: new Float32Array(n),
          };
    const size = rowBytes(index);
    const buffer = new Uint8Array(size);
    // Group reads by shard so each shard file is opened once per call.
    const byShard = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (!(Number.isInteger(id) && id >= 0 && id < index.rows)) throw badValue(`ids[${i}]`, id, `a row id in [0, ${index.rows})`);
      const shard = Math.floor(id / index.rowsPerShard);
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(i);
    }
    for (const [shard, positions] of byShard) {
      const { file, firstRow, crc32 } = index.shards[shard]!;
      const path = shardPath(this.dir, file);
      if (crc32 !== undefined && !this.#checked.has(shard)) {
        const actual = await fileCrc32(path);
        if (actual !== crc32)
          throw shardCorrupt(this.dir, file, `does not match its recorded CRC32 (bit flip or overwrite); rebuild the cache`);
        this.#checked.add(shard);
      }
      const handle = await open(path, 'r');
      try {
        for (const at of positions) {
          const { bytesRead } = await handle.read(buffer, 0, size, (ids[at]! - firstRow) * size);
          if (bytesRead !== size) throw corrupt(this.dir, `${file} ended early reading row ${ids[at]}`, file);
          decodeRowInto(buffer, out, at);
        }
      } finally {
        await handle.close();
      }
    }
    return out;
  }
}
