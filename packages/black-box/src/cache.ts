import type { Completion } from '@distillery/core';

/**
 * Content-addressed store of teacher answers, keyed by `requestKey(model, request)`. Reruns and
 * resumed runs look here first and call the teacher only on a miss.
 */
export interface ResponseCache {
  get(key: string): Promise<Completion | undefined>;
  set(key: string, completion: Completion): Promise<void>;
}

export class MemoryResponseCache implements ResponseCache {
  readonly #entries = new Map<string, Completion>();

  get size(): number {
    return this.#entries.size;
  }

  async get(key: string): Promise<Completion | undefined> {
    const hit = this.#entries.get(key);
    return hit && structuredClone(hit);
  }

  async set(key: string, completion: Completion): Promise<void> {
    this.#entries.set(key, structuredClone(completion));
  }
}
