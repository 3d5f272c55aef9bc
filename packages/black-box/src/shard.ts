import { createHash } from 'node:crypto';
import { DistilleryError } from '@distillery/core';

/** Shard `index` of `count` (0-based). */
export interface Shard {
  index: number;
  count: number;
}

/** Parses "i/n" (0 <= i < n): E_BAD_CONFIG naming `field` otherwise. */
export function parseShard(text: string, field = 'shard'): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(String(text).trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || !(count >= 1) || !(index < count)) {
    throw new DistilleryError('E_BAD_CONFIG', `${field} must be "i/n" with 0 <= i < n (e.g. "0/4"), got ${JSON.stringify(text)}`, {
      field,
      value: text,
    });
  }
  return { index, count };
}

/**
 * The shard an id belongs to among `count`: the first 8 hex digits of SHA-256(UTF-8 id) as an
 * unsigned integer, modulo `count`. Depends on the id only (not on input order or machine), so any
 * machine computes the same partition; in Python:
 * `int(hashlib.sha256(id.encode()).hexdigest()[:8], 16) % count`.
 */
export function shardOf(id: string, count: number): number {
  return Number.parseInt(createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 8), 16) % count;
}

/** The items of one shard, in input order. */
export function shardItems<T extends { id: string }>(items: readonly T[], shard: Shard): T[] {
  return items.filter((item) => shardOf(item.id, shard.count) === shard.index);
}
