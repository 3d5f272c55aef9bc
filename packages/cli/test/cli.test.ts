import { describe, expect, it } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { runCli } from '../src/index.js';
import { captureIO } from './capture-io.js';

describe('distillery CLI', () => {
  it('lists its commands and rejects unknown ones by name', async () => {
    const io = captureIO();
    expect(await runCli(['--help'], io)).toBe(0);
    expect(io.out).toContain('selfcheck');
    const bad = captureIO();
    expect(await runCli(['selfchek'], bad)).toBe(2);
    expect(bad.err).toContain('unknown command "selfchek"');
  });

  it('turns bad flags into a typed error naming the flag and value', async () => {
    const io = captureIO();
    expect(await runCli(['selfcheck', '--megabytes', 'lots'], io)).toBe(2);
    expect(io.err).toContain('E_BAD_VALUE: --megabytes must be an integer in [1, 1024], got "lots"');
    const unknown = captureIO();
    expect(await runCli(['selfcheck', '--fast'], unknown)).toBe(2);
    expect(unknown.err).toContain('E_BAD_CONFIG');
    expect(unknown.err).toContain('--fast');
  });
});

gpuDescribe('distillery selfcheck', () => {
  gpuTest('acquires the adapter, checks the kernels and reports bandwidth as JSON', async () => {
    const io = captureIO();
    expect(await runCli(['selfcheck', '--json', '--megabytes', '4'], io)).toBe(0);
    const result = JSON.parse(io.out);
    expect(result.ok).toBe(true);
    expect(result.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    expect(result.copyBandwidthGBps).toBeGreaterThan(0);
    expect(result.adapter.backend).toBe('dawn-node');
  });
});
