import { DistilleryError } from '@distillery/core';
import type { DistillationLaw, SupervisedLaw } from './types.js';

const SUPERVISED_KEYS = ['E', 'A', 'B', 'alpha', 'beta', 'gamma'] as const;
const DISTILLATION_KEYS = ['A', 'B', 'alpha', 'beta', 'gamma', 'c0', 'c1', 'f1', 'd1'] as const;

function readLaw<K extends string>(
  value: unknown,
  keys: readonly K[],
  field: string,
  defaults: Partial<Record<K, number>> = {},
): Record<K, number> {
  if (value === null || typeof value !== 'object') {
    throw new DistilleryError('E_BAD_INPUT', `${field} must be an object with ${keys.join(', ')}`, { field, value });
  }
  const out = {} as Record<K, number>;
  for (const key of keys) {
    const raw = (value as Record<string, unknown>)[key] ?? defaults[key];
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      throw new DistilleryError('E_BAD_INPUT', `${field}.${key} must be a finite number, got ${JSON.stringify(raw)}`, {
        field: `${field}.${key}`,
        value: raw,
      });
    }
    out[key] = raw;
  }
  return out;
}

/**
 * Laws from a JSON document: the output of `distillery fit` (a supervised or distillation fit) or
 * `{ "supervised": {...}, "distillation": {...} }`. A supervised law without gamma is Chinchilla's form.
 */
export function lawsFromJson(document: unknown): { supervised?: SupervisedLaw; distillation?: DistillationLaw } {
  if (document === null || typeof document !== 'object') {
    throw new DistilleryError('E_BAD_INPUT', 'a laws file must hold a JSON object', { value: document });
  }
  const doc = document as Record<string, unknown>;
  if (doc.kind === 'supervised') return { supervised: readLaw(doc.law, SUPERVISED_KEYS, 'law', { gamma: 1 }) };
  if (doc.kind === 'distillation') {
    return {
      supervised: readLaw(doc.supervisedLaw, SUPERVISED_KEYS, 'supervisedLaw', { gamma: 1 }),
      distillation: readLaw(doc.law, DISTILLATION_KEYS, 'law'),
    };
  }
  const out: { supervised?: SupervisedLaw; distillation?: DistillationLaw } = {};
  if (doc.supervised !== undefined) out.supervised = readLaw(doc.supervised, SUPERVISED_KEYS, 'supervised', { gamma: 1 });
  if (doc.distillation !== undefined) out.distillation = readLaw(doc.distillation, DISTILLATION_KEYS, 'distillation');
  if (!out.supervised && !out.distillation) {
    throw new DistilleryError(
      'E_BAD_INPUT',
      'a laws file must be a fit from `distillery fit` or hold "supervised" and/or "distillation" coefficients',
      { known: Object.keys(doc) },
    );
  }
  return out;
}
