import { DistilleryError, shapeMismatch, type ModelState } from '@distillery/core';
import { readTensor, type GpuTensor } from '@distillery/webgpu';
import { requireDtype } from '../checks.js';

/**
 * The model lifecycle shared by MlpClassifier, TransformerLm and LlamaLm: per-mode forward caches,
 * saved states refused when they are of another model kind, and (for the token-window language
 * models) token batch checks. Sampling lives in ../sampling.ts, outside the models.
 */

/** Checks `tokens` is i32 `[sequences·context]`; returns the row count. */
export function requireTokenWindow(tokens: GpuTensor, sequences: number, context: number): number {
  requireDtype(tokens, 'i32');
  if (!(Number.isInteger(sequences) && sequences >= 1) || tokens.size !== sequences * context) {
    throw shapeMismatch(tokens.label, tokens.shape, `[${sequences} sequences × context ${context}] token ids`);
  }
  return sequences * context;
}

/** Reads `tokens` back and refuses an id outside [0, vocab) (an embedding lookup would silently clamp or read garbage). */
export async function requireTokenIds(tokens: GpuTensor, vocab: number, kind: string): Promise<void> {
  const ids = (await readTensor(tokens)).data as Int32Array;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < vocab)) {
      throw new DistilleryError(
        'E_BAD_VALUE',
        `${kind}: token id ${id} at position ${i} of ${tokens.label} is outside the vocabulary [0, ${vocab})`,
        {
          field: `${tokens.label}[${i}]`,
          value: id,
          expected: `an integer in [0, ${vocab})`,
        },
      );
    }
  }
}

/** The caches of the last training and evaluation forwards, each released when replaced. */
export class ModeCaches<C> {
  #train: C | undefined;
  #eval: C | undefined;

  constructor(readonly releaseCache: (cache: C) => void) {}

  get(training: boolean): C | undefined {
    return training ? this.#train : this.#eval;
  }

  set(training: boolean, cache: C): void {
    const old = this.get(training);
    if (old) this.releaseCache(old);
    if (training) this.#train = cache;
    else this.#eval = cache;
  }

  /** The training cache, or `E_BAD_VALUE` naming `field` when no training forward ran. */
  requireTraining(kind: string, field: string): C {
    if (!this.#train) throw new DistilleryError('E_BAD_VALUE', `${kind}.backward needs a forward with training: true first`, { field });
    return this.#train;
  }

  /** Drops the training cache (a `loadState` makes it stale); the eval cache, which callers may still read, stays. */
  clearTraining(): void {
    if (this.#train) this.releaseCache(this.#train);
    this.#train = undefined;
  }

  clear(): void {
    for (const c of [this.#train, this.#eval]) if (c) this.releaseCache(c);
    this.#train = this.#eval = undefined;
  }
}

/** A saved state's config without its `kind`, refusing a state of another model kind. */
export function stateConfig(state: ModelState, kind: string): Record<string, unknown> {
  const { kind: stateKind, ...rest } = state.config as Record<string, unknown> & { kind?: unknown };
  if (stateKind !== undefined && stateKind !== kind) {
    throw new DistilleryError('E_BAD_CONFIG', `model state is a ${String(stateKind)}, not a ${kind}`, {
      field: 'config.kind',
      value: stateKind,
      expected: kind,
    });
  }
  return rest;
}
