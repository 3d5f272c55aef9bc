import { describe, expect, it } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { runCli, type CliIO } from '../src/index.js';
import { recoveredFraction } from '../src/commands/demo.js';

function captureIO(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    cwd: process.cwd(),
    isTTY: false,
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
  };
  return io;
}

describe('recoveredFraction', () => {
  it("is the share of the teacher–scratch gap the distilled student closes (Hinton et al.'s MNIST: 91 %)", () => {
    expect(recoveredFraction(67, 146, 74)).toBeCloseTo(72 / 79, 12);
    expect(recoveredFraction(0.05, 0.07, 0.08)).toBeCloseTo(-0.5, 12);
    // No gap (teacher no better than scratch): nothing to recover.
    expect(recoveredFraction(0.07, 0.07, 0.06)).toBeNull();
  });
});

gpuDescribe('distillery demo', () => {
  gpuTest('--quick --json trains the four models and reports per-model test errors over seeds', async () => {
    const io = captureIO();
    expect(await runCli(['demo', '--quick', '--json', '--epochs', '2'], io)).toBe(0);
    const result = JSON.parse(io.out);
    expect(result.split.train + result.split.test).toBe(3000);
    for (const name of ['teacher', 'scratch', 'distilled', 'distilledUnlabelled']) {
      const model = result.models[name];
      expect(model.testError).toHaveLength(1);
      // Ten classes: chance is 90% error; every model must have learned something real.
      expect(model.mean).toBeLessThan(0.35);
      expect(model.std).toBe(0);
    }
    expect(result.adapter).toContain('dawn-node');
    const [teacher, scratch, distilled] = ['teacher', 'scratch', 'distilled'].map((name) => result.models[name].testError[0] as number);
    expect(result.recovered.perSeed).toEqual([recoveredFraction(teacher!, scratch!, distilled!)]);
    // One progress line per model on a non-terminal stderr.
    expect(io.err.match(/test error/g)).toHaveLength(4);
  });

  gpuTest('bad flags are typed errors naming the flag', async () => {
    const io = captureIO();
    expect(await runCli(['demo', '--temperature', '0'], io)).toBe(2);
    expect(io.err).toContain('--temperature must be a number > 0, got "0"');
    const missing = captureIO();
    expect(await runCli(['demo', '--quick', '--data', '/no/such/dir'], missing)).toBe(2);
    expect(missing.err).toContain('E_NOT_FOUND');
  });
});
