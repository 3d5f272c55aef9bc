import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { runCli } from '../src/index.js';
import { DEMO_CONFIG, QUICK_DEMO_CONFIG, recoveredFraction } from '../src/commands/demo.js';
import { captureIO } from './capture-io.js';

const examples = join(import.meta.dirname, '..', '..', '..', 'examples', 'mnist');

describe('recoveredFraction', () => {
  it("is the share of the teacher–scratch gap the distilled student closes (Hinton et al.'s MNIST: 91 %)", () => {
    expect(recoveredFraction(67, 146, 74)).toBeCloseTo(72 / 79, 12);
    expect(recoveredFraction(0.05, 0.07, 0.08)).toBeCloseTo(-0.5, 12);
    // No gap (teacher no better than scratch): nothing to recover.
    expect(recoveredFraction(0.07, 0.07, 0.06)).toBeNull();
  });
});

describe('the demo preset', () => {
  it('is examples/mnist/distill.json, a distill config', async () => {
    const { $schema, ...file } = JSON.parse(await readFile(join(examples, 'distill.json'), 'utf8'));
    expect($schema).toBe('../../packages/cli/distill.schema.json');
    expect(file).toEqual(DEMO_CONFIG);
  });
});

gpuDescribe('distillery demo', () => {
  gpuTest(
    '--quick --json trains the four models per seed through the distill runner; `distillery distill` on the same config prints the same table',
    async () => {
      const io = captureIO();
      expect(await runCli(['demo', '--quick', '--json', '--epochs', '2'], io), io.err).toBe(0);
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
      // One line per model on a non-terminal stderr.
      expect(io.err.match(/test error/g)).toHaveLength(4);

      // The demo is a preset: the same config through `distillery distill` gives the same errors.
      const dir = await mkdtemp(join(tmpdir(), 'demo-as-distill-'));
      const config = structuredClone(QUICK_DEMO_CONFIG);
      config.teacher.epochs = 2;
      config.training.epochs = 2;
      await writeFile(join(dir, 'quick-demo.json'), JSON.stringify(config));
      const viaDistill = captureIO();
      expect(await runCli(['distill', join(dir, 'quick-demo.json'), '--json'], viaDistill), viaDistill.err).toBe(0);
      const again = JSON.parse(viaDistill.out);
      expect(again.runDir).toBe(join(dir, 'quick-demo.run'));
      for (const name of ['teacher', 'scratch', 'distilled', 'distilledUnlabelled'])
        expect(again.models[name].errors, name).toEqual(result.models[name].errors);
      const table = captureIO();
      expect(await runCli(['distill', join(dir, 'quick-demo.json')], table)).toBe(0);
      expect(table.out).toMatch(/teacher–scratch gap recovered by distillation: .*per seed/);
      expect(table.out).toMatch(
        new RegExp(
          `student, distilled +${(result.models.distilled.mean * 100).toFixed(2)}% ± 0\\.00% +${result.models.distilled.errors[0]} `,
        ),
      );
    },
    300_000,
  );

  gpuTest('bad flags are typed errors naming the flag', async () => {
    const io = captureIO();
    expect(await runCli(['demo', '--temperature', '0'], io)).toBe(2);
    expect(io.err).toContain('--temperature must be a number > 0, got "0"');
    const seeds = captureIO();
    expect(await runCli(['demo', '--seeds', '0'], seeds)).toBe(2);
    expect(seeds.err).toContain('--seeds must be an integer in [1, 20], got "0"');
    const missing = captureIO();
    expect(await runCli(['demo', '--quick', '--data', '/no/such/dir'], missing)).toBe(2);
    expect(missing.err).toContain('E_NOT_FOUND');
  });
});
