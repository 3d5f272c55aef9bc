/**
 * Teacher cache parts: shards of one cache built on many machines (or by any program that can write
 * little-endian floats, e.g. the Python reference writer in examples/scale-out), merged into one
 * cache with a checked index.
 *
 * A part is a folder with `part.json` and shard files:
 *
 *   { "format": "distillery-teacher-cache-part/1",
 *     "kind": "dense" | "topk", "rows": <rows in the WHOLE transfer set>, "vocab": V, "k": K (topk),
 *     "teacher": "<name>", "rowsPerShard": R,
 *     "shards": [{ "file": "shard-00003.bin", "firstRow": 3R, "rows": R, "bytes": R × rowBytes,
 *                  "sha256": "<hex>", "crc32": <uint32, optional> }, …] }
 *
 * Shard s holds rows [s·R, min((s+1)·R, rows)) in the cache's row layout (see format.ts); a part
 * may hold any set of whole shards. A complete cache folder (`index.json`) is accepted as a part
 * too. The merge checks that every part describes the same cache, every shard's size and SHA-256,
 * that shards held twice are byte-identical, and that together they cover every row; then it
 * writes `shard-NNNNN.bin` files and `index.json` (last, atomically) with SHA-256 and CRC32.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { CACHE_FORMAT, rowBytes, shardFileName, type CacheIndex, type CacheShard, type CachedRows } from './format.js';
import { encodeRows } from './format.js';
import { bytesCrc32, shardPath } from './integrity.js';

export const CACHE_PART_FORMAT = 'distillery-teacher-cache-part/1';

export interface CachePartIndex extends Omit<CacheIndex, 'format' | 'createdAt'> {
  format: typeof CACHE_PART_FORMAT;
  createdAt?: string;
}

export interface MergeCachePartsOptions {
  /** Part folders (`part.json`) or complete cache folders (`index.json`). */
  parts: readonly string[];
  /** The merged cache folder (must not hold a cache yet). */
  out: string;
}

export interface CacheMergeReport {
  out: string;
  shards: number;
  rows: number;
  /** Shards found in more than one part (byte-identical; the first copy is used). */
  duplicated: { shard: number; parts: string[] }[];
  /** Shards no part holds, with their row ranges [first, end). */
  missing: { shard: number; firstRow: number; endRow: number }[];
  complete: boolean;
}

const HEADER_KEYS = ['kind', 'rows', 'vocab', 'k', 'teacher', 'rowsPerShard'] as const;

const bad = (dir: string, message: string, field: string, file = 'part.json') =>
  new DistilleryError('E_CORRUPT_FILE', `teacher cache part ${dir}: ${message}`, { field, value: dir, file: join(dir, file) });

async function readPart(dir: string): Promise<CachePartIndex> {
  for (const [file, format] of [
    ['part.json', CACHE_PART_FORMAT],
    ['index.json', CACHE_FORMAT],
  ] as const) {
    let text: string;
    try {
      text = await readFile(join(dir, file), 'utf8');
    } catch {
      continue;
    }
    let parsed: { format?: unknown };
    try {
      parsed = JSON.parse(text) as { format?: unknown };
    } catch {
      throw bad(dir, `${file} is not valid JSON`, 'format', file);
    }
    if (parsed?.format !== format)
      throw bad(dir, `${file} has format ${JSON.stringify(parsed?.format)}, expected ${format}`, 'format', file);
    return { ...(parsed as CachePartIndex), format: CACHE_PART_FORMAT };
  }
  throw new DistilleryError('E_NOT_FOUND', `no teacher cache part at ${dir} (neither part.json nor index.json)`, {
    field: 'parts',
    value: dir,
  });
}

const isCount = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

function checkHeader(dir: string, part: CachePartIndex): void {
  if (part.kind !== 'dense' && part.kind !== 'topk') throw bad(dir, `kind ${JSON.stringify(part.kind)} is not "dense" or "topk"`, 'kind');
  for (const key of ['rows', 'vocab', 'rowsPerShard'] as const)
    if (!isCount(part[key], 1)) throw bad(dir, `${key} ${JSON.stringify(part[key])} is not an integer >= 1`, key);
  if (part.kind === 'topk' && !(isCount(part.k, 1) && part.k <= part.vocab))
    throw bad(dir, `k ${JSON.stringify(part.k)} is not an integer in [1, vocab]`, 'k');
  if (part.kind === 'dense' && part.k !== undefined && part.k !== null) throw bad(dir, 'k is only for kind "topk"', 'k');
  if (typeof part.teacher !== 'string' || part.teacher === '') throw bad(dir, 'teacher is not a non-empty string', 'teacher');
  if (!Array.isArray(part.shards)) throw bad(dir, 'shards is not an array', 'shards');
}

/** Merges cache parts into one complete cache; with shards missing it writes nothing and reports them. */
export async function mergeCacheParts(options: MergeCachePartsOptions): Promise<CacheMergeReport> {
  if (options.parts.length === 0) throw new DistilleryError('E_BAD_CONFIG', 'merge needs at least one cache part', { field: 'parts' });
  const existing = await stat(join(options.out, 'index.json')).catch(() => undefined);
  if (existing)
    throw new DistilleryError('E_BAD_CONFIG', `${options.out} already holds a teacher cache (index.json); merge into an empty folder`, {
      field: 'out',
      value: options.out,
    });
  const parts: { dir: string; index: CachePartIndex }[] = [];
  for (const dir of options.parts) {
    const index = await readPart(dir);
    checkHeader(dir, index);
    if (parts.length) {
      const first = parts[0]!;
      for (const key of HEADER_KEYS) {
        if ((index[key] ?? null) !== (first.index[key] ?? null)) {
          throw new DistilleryError(
            'E_BAD_CONFIG',
            `cache parts disagree: ${dir} has ${key} = ${JSON.stringify(index[key])}, ${first.dir} has ${JSON.stringify(first.index[key])}`,
            { field: key, value: dir },
          );
        }
      }
    }
    parts.push({ dir, index });
  }
  const header = parts[0]!.index;
  const size = rowBytes(header);
  const shardCount = Math.ceil(header.rows / header.rowsPerShard);
  const sources = new Map<number, { dir: string; shard: CacheShard }[]>();
  for (const { dir, index } of parts) {
    index.shards.forEach((shard, i) => {
      const field = `shards[${i}]`;
      shardPath(dir, shard?.file, `${field}.file`);
      if (!isCount(shard.firstRow, 0) || shard.firstRow % header.rowsPerShard !== 0 || shard.firstRow >= header.rows) {
        throw bad(
          dir,
          `${field} (${shard.file}) starts at row ${JSON.stringify(shard.firstRow)}: not a multiple of rowsPerShard ${header.rowsPerShard} below rows ${header.rows}`,
          `${field}.firstRow`,
        );
      }
      const expectedRows = Math.min(header.rowsPerShard, header.rows - shard.firstRow);
      if (shard.rows !== expectedRows)
        throw bad(dir, `${field} (${shard.file}) holds ${JSON.stringify(shard.rows)} rows, expected ${expectedRows}`, `${field}.rows`);
      if (shard.bytes !== expectedRows * size)
        throw bad(
          dir,
          `${field} (${shard.file}) is recorded as ${JSON.stringify(shard.bytes)} bytes, expected ${expectedRows} × ${size}`,
          `${field}.bytes`,
        );
      if (typeof shard.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(shard.sha256))
        throw bad(dir, `${field} (${shard.file}) has no valid sha256`, `${field}.sha256`);
      const number = shard.firstRow / header.rowsPerShard;
      const list = sources.get(number) ?? [];
      list.push({ dir, shard });
      sources.set(number, list);
    });
  }
  const report: CacheMergeReport = {
    out: options.out,
    shards: shardCount,
    rows: header.rows,
    duplicated: [],
    missing: [],
    complete: false,
  };
  for (let s = 0; s < shardCount; s++) {
    const list = sources.get(s);
    if (!list)
      report.missing.push({ shard: s, firstRow: s * header.rowsPerShard, endRow: Math.min(header.rows, (s + 1) * header.rowsPerShard) });
    else if (list.length > 1) {
      // Two machines computed the same rows: fine when they agree bit for bit, a problem to name when not.
      const hashes = new Set(list.map((x) => x.shard.sha256));
      if (hashes.size > 1) {
        throw new DistilleryError(
          'E_CORRUPT_FILE',
          `shard ${s} (rows ${s * header.rowsPerShard}…) differs between parts ${list.map((x) => x.dir).join(' and ')} (different SHA-256): rebuild one of them`,
          { field: `shards[${s}]`, value: list.map((x) => x.dir) },
        );
      }
      report.duplicated.push({ shard: s, parts: list.map((x) => x.dir) });
    }
  }
  if (report.missing.length) return report;

  await mkdir(options.out, { recursive: true });
  const shards: CacheShard[] = [];
  for (let s = 0; s < shardCount; s++) {
    const { dir, shard } = sources.get(s)![0]!;
    const bytes = await readFile(shardPath(dir, shard.file));
    if (bytes.length !== shard.bytes)
      throw bad(dir, `${shard.file} is ${bytes.length} bytes, expected ${shard.bytes} (truncated?)`, `shards[${s}].bytes`, shard.file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== shard.sha256)
      throw bad(dir, `${shard.file} does not match its recorded SHA-256 (damaged in transfer?)`, `shards[${s}].sha256`, shard.file);
    const crc32 = bytesCrc32(bytes);
    if (shard.crc32 !== undefined && shard.crc32 !== crc32)
      throw bad(dir, `${shard.file} does not match its recorded CRC32`, `shards[${s}].crc32`, shard.file);
    const file = shardFileName(s);
    // Copy to a temp name, then rename: a crash never leaves a half-copied shard under its real name.
    const temp = join(options.out, `.${file}.partial`);
    await copyFile(shardPath(dir, shard.file), temp);
    await rename(temp, join(options.out, file));
    shards.push({ file, firstRow: shard.firstRow, rows: shard.rows, bytes: shard.bytes, sha256, crc32 });
  }
  const index: CacheIndex = {
    format: CACHE_FORMAT,
    kind: header.kind,
    rows: header.rows,
    vocab: header.vocab,
    ...(header.kind === 'topk' ? { k: header.k } : {}),
    teacher: header.teacher,
    rowsPerShard: header.rowsPerShard,
    shards,
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(options.out, 'index.json'), JSON.stringify(index, null, 2));
  report.complete = true;
  return report;
}

/**
 * Writes a cache part from TypeScript: the given shards (numbers in the whole cache) with their
 * rows. What `examples/scale-out/write_cache_shard.py` does in Python.
 */
export async function writeCachePart(options: {
  dir: string;
  header: Pick<CacheIndex, 'kind' | 'rows' | 'vocab' | 'k' | 'teacher' | 'rowsPerShard'>;
  shards: { shard: number; rows: CachedRows }[];
}): Promise<CachePartIndex> {
  const { dir, header } = options;
  const part: CachePartIndex = { format: CACHE_PART_FORMAT, ...header, shards: [], createdAt: new Date().toISOString() };
  for (const { shard, rows } of options.shards) {
    const bytes = encodeRows(rows);
    const file = shardFileName(shard);
    await writeFileAtomic(join(dir, file), bytes);
    part.shards.push({
      file,
      firstRow: shard * header.rowsPerShard,
      rows: rows.rows,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      crc32: bytesCrc32(bytes),
    });
  }
  await writeFileAtomic(join(dir, 'part.json'), JSON.stringify(part, null, 2));
  return part;
}
