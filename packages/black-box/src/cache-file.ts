import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badValue, type Completion } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import type { ResponseCache } from './cache.js';

interface CacheEntry {
  v: 1;
  key: string;
  completion: Completion;
}

/**
 * One JSON file per answer under `dir/<key[0..2]>/<key>.json`, written atomically (temp file +
 * rename), so a crash never leaves a half-written entry. An unreadable entry counts as a miss.
 */
export class FileResponseCache implements ResponseCache {
  constructor(readonly dir: string) {}

  pathOf(key: string): string {
    if (typeof key !== 'string' || !/^[0-9a-f]{16,}$/.test(key))
      throw badValue('key', typeof key === 'string' ? key.slice(0, 40) : key, 'a hex digest (requestKey) of 16+ characters');
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get(key: string): Promise<Completion | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const entry = JSON.parse(text) as CacheEntry;
      return entry.v === 1 && entry.key === key && typeof entry.completion?.text === 'string' ? entry.completion : undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, completion: Completion): Promise<void> {
    const entry: CacheEntry = { v: 1, key, completion };
    await writeFileAtomic(this.pathOf(key), JSON.stringify(entry));
  }
}
