import { DistilleryError } from '@distillery/core';
import type { UniformValue } from '../uniforms.js';

export type ScalarType = 'u32' | 'i32' | 'f32';

/**
 * One field of a kernel's uniform struct: its WGSL type, or the type with options:
 * `default` (used when the caller leaves the field out) and `nonFinite: true` (an f32 that may be
 * ±Infinity or NaN, e.g. an infinity passed as data because WGSL cannot spell it as a constant).
 */
export type UniformField = ScalarType | { type: ScalarType; default?: number | boolean; nonFinite?: boolean };

/** Field name → type, in struct order (object order is declaration order). */
export type UniformTable = Record<string, UniformField>;

/** The host values of a table: numbers (booleans become u32 0/1); fields with a default are optional. */
export type UniformValues<U extends UniformTable> = {
  [K in keyof U as U[K] extends { default: number | boolean } ? never : K]: number | boolean;
} & {
  [K in keyof U as U[K] extends { default: number | boolean } ? K : never]?: number | boolean;
};

function field(spec: UniformField): { type: ScalarType; default?: number | boolean; nonFinite?: boolean } {
  return typeof spec === 'string' ? { type: spec } : spec;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `struct Params { ... };` plus its binding at @binding(0); empty for an empty table. */
export function uniformStructWgsl(table: UniformTable, struct = 'Params', variable = 'params'): string {
  const names = Object.keys(table);
  if (names.length === 0) return '';
  for (const name of names) {
    if (!IDENT.test(name))
      throw new DistilleryError('E_BAD_VALUE', `uniform field name "${name}" is not a WGSL identifier`, { field: 'uniforms', value: name });
  }
  return `struct ${struct} {\n${names.map((n) => `  ${n}: ${field(table[n]!).type},`).join('\n')}\n};\n@group(0) @binding(0) var<uniform> ${variable}: ${struct};`;
}

export interface UniformContext {
  kernel: string;
  label: string;
}

/**
 * Checks `values` against the table (every field without a default present, no unknown field,
 * integers in range for u32/i32, finite f32 unless the field allows otherwise) and returns them in
 * struct order for `packUniforms`.
 */
export function packUniformTable(
  table: UniformTable,
  values: Readonly<Record<string, number | boolean | undefined>>,
  ctx: UniformContext,
): UniformValue[] {
  const fail = (name: string, value: unknown, expected: string) =>
    new DistilleryError('E_BAD_VALUE', `${ctx.kernel} (${ctx.label}): uniform ${name} must be ${expected}, got ${String(value)}`, {
      kernel: ctx.kernel,
      label: ctx.label,
      field: `uniforms.${name}`,
      value,
      expected,
    });
  for (const name of Object.keys(values)) {
    if (!(name in table)) throw fail(name, values[name], `absent (the kernel declares ${Object.keys(table).join(', ') || 'no uniforms'})`);
  }
  return Object.entries(table).map(([name, spec]) => {
    const { type, default: fallback, nonFinite } = field(spec);
    const raw = values[name] ?? fallback;
    if (raw === undefined) throw fail(name, undefined, `given (a ${type})`);
    const v = typeof raw === 'boolean' ? Number(raw) : raw;
    if (typeof v !== 'number') throw fail(name, raw, `a number (${type})`);
    if (type === 'f32') {
      if (!nonFinite && !Number.isFinite(v)) throw fail(name, v, 'a finite number (f32)');
      return { f32: v };
    }
    if (type === 'u32') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw fail(name, v, 'an integer in [0, 2^32) (u32)');
      return { u32: v };
    }
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw fail(name, v, 'an integer in [-2^31, 2^31) (i32)');
    return { i32: v };
  });
}
