import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRegistry, definePlugin, DistilleryError, parseConfig, PluginRegistry } from '../src/index.js';

const catchError = async (fn: () => unknown): Promise<DistilleryError> => {
  try {
    await fn();
  } catch (error) {
    if (error instanceof DistilleryError) return error;
    throw error;
  }
  throw new Error('expected a DistilleryError');
};

const widthsPlugin = definePlugin({
  kind: 'student',
  name: 'mlp',
  configSchema: z.object({ widths: z.array(z.number().int().positive()), dropout: z.number().min(0).max(1).default(0) }).strict(),
  create: (config) => ({ made: 'mlp', ...config }),
});

describe('plugin registry', () => {
  it('registers and resolves by name with the config validated and defaulted', async () => {
    const registry = new PluginRegistry().register(widthsPlugin);
    expect(registry.has('student', 'mlp')).toBe(true);
    expect(await registry.create('student', { name: 'mlp', widths: [800, 800] })).toEqual({ made: 'mlp', widths: [800, 800], dropout: 0 });
  });

  it('an unknown name lists the known names of that kind', async () => {
    const registry = createRegistry();
    const error = await catchError(() => registry.create('scheduler', 'cosin'));
    expect(error.code).toBe('E_UNKNOWN_PLUGIN');
    expect(error.message).toContain('no scheduler plugin named "cosin"');
    expect(error.details.known).toEqual(['constant', 'cosine', 'linear', 'step', 'warmup']);
  });

  it('a bad config names the field path, what was expected and what was given', async () => {
    const registry = new PluginRegistry().register(widthsPlugin);
    const error = await catchError(() => registry.create('student', { name: 'mlp', widths: [800, 'wide'] }, { path: 'student' }));
    expect(error.code).toBe('E_BAD_CONFIG');
    expect(error.details.issues).toEqual([{ path: 'student.widths[1]', expected: 'number', got: '"wide"' }]);
    expect(error.message).toContain('student.widths[1]: expected number, got "wide"');
  });

  it('reports ranges and unknown keys precisely', () => {
    const schema = z.object({ dropout: z.number().max(1) }).strict();
    const error = (() => {
      try {
        parseConfig(schema, { dropout: 1.5, dropuot: 0.1 }, 'student');
      } catch (e) {
        return e as DistilleryError;
      }
    })()!;
    const issues = error.details.issues as { path: string; expected: string; got: string }[];
    expect(issues).toContainEqual({ path: 'student.dropout', expected: '<= 1', got: '1.5' });
    expect(issues.some((i) => i.expected.includes('dropuot'))).toBe(true);
  });

  it('refuses a duplicate registration', () => {
    const registry = new PluginRegistry().register(widthsPlugin);
    expect(() => registry.register(widthsPlugin)).toThrowError(/already registered/);
  });

  it('finds third-party plugins by package specifier', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-plugin-'));
    const file = join(dir, 'plugin.mjs');
    await writeFile(file, `export const plugins = [{ kind: 'teacher', name: 'echo', create: (c) => ({ echo: c.word }) }];`);
    const registry = new PluginRegistry();
    expect(await registry.loadPackage(pathToFileURL(file).href)).toEqual(['teacher/echo']);
    expect(await registry.create('teacher', { name: 'echo', word: 'hi' })).toEqual({ echo: 'hi' });
    const missing = await catchError(() => registry.loadPackage('@distillery/no-such-plugin'));
    expect(missing.code).toBe('E_NOT_FOUND');
  });
});
