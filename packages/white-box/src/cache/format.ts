/**
 * The offline teacher cache format (`distillery-teacher-cache/1`), documented in docs/white-box.md.
 *
 * A cache is a directory:
 *   index.json            this file's `CacheIndex`, written last and atomically
 *   shard-00000.bin ...   rows [firstRow, firstRow + rows) of the transfer set, little-endian
 *
 * One row of a shard:
 *   dense: vocab × f32 logits (raw, untempered)
 *   topk:  k × i32 token indices, k × f32 log-probabilities (full vocabulary, T = 1),
 *          1 × f32 tail mass (1 − Σ exp(logprobs), clamped to [0, 1])
 * Rows are stored in transfer-set order (row i = example id i), so a shuffled data source reads
 * them by id.
 */

import { logSumExpRow } from '@distillery/nn';

export const CACHE_FORMAT = 'distillery-teacher-cache/1';

export interface CacheShard {
  file: string;
  firstRow: number;
  rows: number;
  bytes: number;
  /** Hex SHA-256 of the shard file. */
  sha256: string;
  /** CRC32 of the shard file, checked by every reader before it returns a row of the shard (absent in caches written before it existed). */
  crc32?: number;
}

export interface CacheIndex {
  format: typeof CACHE_FORMAT;
  kind: 'dense' | 'topk';
  /** Rows in the whole transfer set. */
  rows: number;
  vocab: number;
  /** Entries per row (topk only). */
  k?: number;
  teacher: string;
  rowsPerShard: number;
  /** Completed shards, in row order. The cache is complete when they cover every row. */
  shards: CacheShard[];
  createdAt: string;
}

export function rowBytes(index: Pick<CacheIndex, 'kind' | 'vocab' | 'k'>): number {
  return index.kind === 'dense' ? index.vocab * 4 : (index.k! * 2 + 1) * 4;
}

export function shardFileName(shard: number): string {
  return `shard-${String(shard).padStart(5, '0')}.bin`;
}

export function coveredRows(index: CacheIndex): number {
  return index.shards.reduce((n, s) => n + s.rows, 0);
}

/** Host-side targets of a set of rows. */
export type CachedRows =
  | { kind: 'dense'; rows: number; vocab: number; logits: Float32Array }
  | { kind: 'topk'; rows: number; k: number; indices: Int32Array; logprobs: Float32Array; tailMass: Float32Array };

/** Serialises rows into shard bytes. */
export function encodeRows(rows: CachedRows): Uint8Array {
  if (rows.kind === 'dense')
    return new Uint8Array(rows.logits.buffer.slice(rows.logits.byteOffset, rows.logits.byteOffset + rows.logits.byteLength));
  const { k } = rows;
  const out = new ArrayBuffer(rows.rows * (2 * k + 1) * 4);
  const view = new DataView(out);
  for (let r = 0; r < rows.rows; r++) {
    const base = r * (2 * k + 1) * 4;
    for (let j = 0; j < k; j++) {
      view.setInt32(base + j * 4, rows.indices[r * k + j]!, true);
      view.setFloat32(base + (k + j) * 4, rows.logprobs[r * k + j]!, true);
    }
    view.setFloat32(base + 2 * k * 4, rows.tailMass[r]!, true);
  }
  return new Uint8Array(out);
}

/** Decodes one row's bytes into position `at` of `into`. */
export function decodeRowInto(bytes: Uint8Array, into: CachedRows, at: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (into.kind === 'dense') {
    for (let v = 0; v < into.vocab; v++) into.logits[at * into.vocab + v] = view.getFloat32(v * 4, true);
    return;
  }
  const { k } = into;
  for (let j = 0; j < k; j++) {
    into.indices[at * k + j] = view.getInt32(j * 4, true);
    into.logprobs[at * k + j] = view.getFloat32((k + j) * 4, true);
  }
  into.tailMass[at] = view.getFloat32(2 * k * 4, true);
}

/**
 * Top-k of log-softmax(logits) per row at T = 1, in float64, with the tail mass: how dense
 * teacher logits become a compact cache.
 */
export function topKFromLogits(logits: Float32Array, rows: number, vocab: number, k: number): Extract<CachedRows, { kind: 'topk' }> {
  const indices = new Int32Array(rows * k);
  const logprobs = new Float32Array(rows * k);
  const tailMass = new Float32Array(rows);
  const order = new Int32Array(vocab);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    const lse = logSumExpRow(row, 0, vocab);
    for (let v = 0; v < vocab; v++) order[v] = v;
    // Partial selection is enough for small k; a full sort keeps the code obvious and ties stable.
    const top = Array.from(order)
      .sort((a, b) => row[b]! - row[a]! || a - b)
      .slice(0, k);
    let covered = 0;
    top.forEach((v, j) => {
      indices[r * k + j] = v;
      const lp = row[v]! - lse;
      logprobs[r * k + j] = lp;
      covered += Math.exp(lp);
    });
    tailMass[r] = Math.min(1, Math.max(0, 1 - covered));
  }
  return { kind: 'topk', rows, k, indices, logprobs, tailMass };
}
