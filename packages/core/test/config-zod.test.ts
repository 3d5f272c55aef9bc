import { z as classic } from 'zod';
import * as mini from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { definePlugin, parseConfig, PluginRegistry } from '../src/index.js';

// The packages validate with zod/mini (20 KB in a page instead of 450 KB); plugins may still
// hand the registry classic zod schemas. Both must give the same E_BAD_CONFIG text.
const classicSchema = classic
  .object({
    steps: classic.number().int().positive(),
    then: classic.union([classic.string(), classic.looseObject({ name: classic.string() })]),
    kind: classic.enum(['a', 'b']).optional(),
    label: classic.string().min(1).optional(),
    scale: classic.number().refine(Number.isFinite, 'a finite number'),
  })
  .strict();
const miniSchema = mini.strictObject({
  steps: mini.number().check(mini.int(), mini.positive()),
  then: mini.union([mini.string(), mini.looseObject({ name: mini.string() })]),
  kind: mini.optional(mini.enum(['a', 'b'])),
  label: mini.optional(mini.string().check(mini.minLength(1))),
  scale: mini.number().check(mini.refine(Number.isFinite, 'a finite number')),
});

const messageOf = (schema: Parameters<typeof parseConfig>[0], value: unknown): string => {
  try {
    parseConfig(schema, value);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected E_BAD_CONFIG');
};

describe('parseConfig with zod/mini and classic zod', () => {
  const bad = [
    { steps: 1.5, then: 3, kind: 'c', label: '', scale: Infinity, extra: 1 },
    { steps: -1, then: { x: 1 }, scale: 'x' },
    'nope',
    { steps: 'a', then: null, scale: 1 },
  ];

  it.each(bad.map((value) => [JSON.stringify(value), value]))('same message for %s', (_, value) => {
    const text = messageOf(miniSchema, value);
    expect(text).toBe(messageOf(classicSchema, value));
    expect(text).toMatch(/^E_BAD_CONFIG: invalid config\n {2}/);
  });

  it('names field, expectation and value', () => {
    expect(messageOf(miniSchema, { steps: 0, then: 'x', scale: 1 })).toContain('steps: expected > 0, got 0');
    expect(messageOf(miniSchema, { steps: 1, then: 'x', scale: 1, kind: 'c' })).toMatch(/kind: expected one of .*a.*b.*, got .*c/);
  });

  it('a plugin may still declare its config with classic zod', async () => {
    const registry = new PluginRegistry();
    registry.register(
      definePlugin({
        kind: 'loss',
        name: 'classic-plugin',
        configSchema: classic.object({ weight: classic.number().min(0) }).strict(),
        create: (config) => config,
      }),
    );
    await expect(registry.create('loss', { name: 'classic-plugin', weight: 2 })).resolves.toEqual({ weight: 2 });
    await expect(registry.create('loss', { name: 'classic-plugin', weight: -1 })).rejects.toThrow(/loss.weight: expected >= 0, got -1/);
  });
});
