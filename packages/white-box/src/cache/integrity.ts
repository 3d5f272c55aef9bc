/**
 * What a teacher cache reader checks before trusting a byte (Node only).
 *
 * The index is data from disk, not a promise: its numbers must agree with each other and with the
 * files (an index edited to `vocab: 9` would otherwise read misaligned logits), shard names must
 * stay inside the cache folder (`../outside.bin` is refused), and each shard's CRC32 is checked the
 * first time a reader touches the shard, before any of its rows is returned (a 1-bit flip is caught
 * without `verify`; `verify` adds the full SHA-256 of every shard at open).
 */
import { open } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { DistilleryError } from '@distillery/core';
import { rowBytes, type CacheIndex } from './format.js';

const corrupt = (dir: string, message: string, field: string) =>
  new DistilleryError('E_CORRUPT_FILE', `teacher cache ${dir}: ${message}`, { field, value: dir, file: `${dir}/index.json` });

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The path of a shard, refusing names that would leave the cache folder. */
export function shardPath(dir: string, file: unknown, field = 'shards[].file'): string {
  if (typeof file !== 'string' || !SAFE_NAME.test(file))
    throw corrupt(dir, `shard file name ${JSON.stringify(file)} is not a plain file name inside the cache folder`, field);
  const path = resolve(dir, file);
  const rel = relative(resolve(dir), path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
    throw corrupt(dir, `shard file name ${JSON.stringify(file)} points outside the cache folder`, field);
  return path;
}

const isCount = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Checks that an index is self-consistent: types, contiguous shards, sizes = rows × row bytes, safe names. */
export function validateCacheIndex(dir: string, index: CacheIndex): void {
  if (index.kind !== 'dense' && index.kind !== 'topk')
    throw corrupt(dir, `index.json kind ${JSON.stringify(index.kind)} is not "dense" or "topk"`, 'kind');
  for (const key of ['rows', 'vocab', 'rowsPerShard'] as const) {
    if (!isCount(index[key], 1)) throw corrupt(dir, `index.json ${key} ${JSON.stringify(index[key])} is not an integer >= 1`, key);
  }
  if (index.kind === 'topk' && !(isCount(index.k, 1) && index.k <= index.vocab))
    throw corrupt(dir, `index.json k ${JSON.stringify(index.k)} is not an integer in [1, vocab = ${index.vocab}]`, 'k');
  if (!Array.isArray(index.shards)) throw corrupt(dir, 'index.json shards is not an array', 'shards');
  const size = rowBytes(index);
  let next = 0;
  index.shards.forEach((shard, i) => {
    const field = `shards[${i}]`;
    shardPath(dir, shard?.file, `${field}.file`);
    const expectedRows = Math.min(index.rowsPerShard, index.rows - next);
    if (shard.firstRow !== next)
      throw corrupt(dir, `${field} (${shard.file}) starts at row ${JSON.stringify(shard.firstRow)}, expected ${next}`, `${field}.firstRow`);
    if (shard.rows !== expectedRows)
      throw corrupt(
        dir,
        `${field} (${shard.file}) holds ${JSON.stringify(shard.rows)} rows, expected ${expectedRows} (rowsPerShard ${index.rowsPerShard})`,
        `${field}.rows`,
      );
    if (shard.bytes !== expectedRows * size) {
      throw corrupt(
        dir,
        `${field} (${shard.file}) is recorded as ${JSON.stringify(shard.bytes)} bytes but ${expectedRows} rows of ${index.kind === 'dense' ? `vocab ${index.vocab}` : `k ${index.k}`} need ${expectedRows * size}: the index does not describe this shard`,
        `${field}.bytes`,
      );
    }
    if (typeof shard.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(shard.sha256))
      throw corrupt(dir, `${field} (${shard.file}) has no valid sha256`, `${field}.sha256`);
    if (shard.crc32 !== undefined && !isCount(shard.crc32, 0))
      throw corrupt(dir, `${field} (${shard.file}) has an invalid crc32`, `${field}.crc32`);
    next += expectedRows;
  });
}

/** CRC32 of a whole file, streamed in 1 MiB chunks. */
export async function fileCrc32(path: string): Promise<number> {
  const handle = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let crc = 0;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return crc;
      crc = crc32(chunk.subarray(0, bytesRead), crc);
    }
  } finally {
    await handle.close();
  }
}

export function bytesCrc32(bytes: Uint8Array): number {
  return crc32(bytes);
}

export function shardCorrupt(dir: string, file: string, what: string): DistilleryError {
  return new DistilleryError('E_CORRUPT_FILE', `teacher cache ${dir}: ${file} ${what}`, {
    field: file,
    value: dir,
    file: `${dir}/${file}`,
  });
}
