import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilleryError, isDistilleryError } from '../src/index.js';
import { DISTILLERY_ERROR_BRAND } from '../src/errors.js';

const dist = join(import.meta.dirname, '..', 'dist');

describe('DistilleryError brand', () => {
  it('is recognised by isDistilleryError and instanceof, with and without a code', () => {
    const error = new DistilleryError('E_BAD_VALUE', 'x must be > 0', { field: 'x', value: -1 });
    expect(isDistilleryError(error)).toBe(true);
    expect(isDistilleryError(error, 'E_BAD_VALUE')).toBe(true);
    expect(isDistilleryError(error, 'E_NOT_FOUND')).toBe(false);
    expect(error instanceof DistilleryError).toBe(true);
    expect((error as unknown as Record<symbol, unknown>)[Symbol.for('distillery.error')]).toBe(true);
    expect(DISTILLERY_ERROR_BRAND).toBe(Symbol.for('distillery.error'));
  });

  it('rejects look-alikes without the brand', () => {
    const fake = Object.assign(new Error('E_BAD_VALUE: no'), { name: 'DistilleryError', code: 'E_BAD_VALUE', details: {} });
    expect(isDistilleryError(fake)).toBe(false);
    expect(fake instanceof DistilleryError).toBe(false);
    expect(isDistilleryError(null)).toBe(false);
    expect(isDistilleryError('E_BAD_VALUE')).toBe(false);
  });

  it('keeps ordinary instanceof for subclasses', () => {
    class Narrow extends DistilleryError {}
    const plain = new DistilleryError('E_ABORTED', 'stop');
    const narrow = new Narrow('E_ABORTED', 'stop');
    expect(narrow instanceof DistilleryError).toBe(true);
    expect(narrow instanceof Narrow).toBe(true);
    expect(plain instanceof Narrow).toBe(false);
  });

  it.runIf(existsSync(join(dist, 'index.cjs')))('matches errors across the CJS build, the ESM build and this copy, both ways', async () => {
    const cjs = createRequire(import.meta.url)(join(dist, 'index.cjs')) as typeof import('../src/index.js');
    const esm = (await import(join(dist, 'index.js'))) as typeof import('../src/index.js');
    expect(cjs.DistilleryError).not.toBe(esm.DistilleryError);
    const fromCjs = new cjs.DistilleryError('E_NOT_FOUND', 'gone');
    const fromEsm = new esm.DistilleryError('E_NOT_FOUND', 'gone');
    for (const [error, other] of [
      [fromCjs, esm],
      [fromEsm, cjs],
      [fromCjs, { isDistilleryError, DistilleryError }],
    ] as const) {
      expect(other.isDistilleryError(error, 'E_NOT_FOUND')).toBe(true);
      expect(error instanceof other.DistilleryError).toBe(true);
    }
    expect(isDistilleryError(fromEsm, 'E_NOT_FOUND') && isDistilleryError(fromCjs, 'E_NOT_FOUND')).toBe(true);
  });

  it.runIf(existsSync(join(dist, 'index.cjs')))(
    'matches an error thrown by a second copy of the package in another realm of modules',
    () => {
      // A CommonJS host that requires core, catching an error made by the ESM copy a plugin imported.
      const script = `
      const host = require(${JSON.stringify(join(dist, 'index.cjs'))});
      import(${JSON.stringify(join(dist, 'index.js'))}).then((plugin) => {
        try { throw new plugin.DistilleryError('E_BAD_CONFIG', 'bad'); }
        catch (e) { process.stdout.write(String(host.isDistilleryError(e, 'E_BAD_CONFIG') && e instanceof host.DistilleryError)); }
      });`;
      expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })).toBe('true');
    },
  );
});
