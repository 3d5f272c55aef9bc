import { describe, expect, it } from 'vitest';
import { kdLossReference } from '@distillery/kernels/reference';
import { cpuKdLoss } from '../src/baselines/cpu.js';
import { findTorchPython, interleaved, withTorch } from '../src/baselines/torch.js';

// PyTorch is an optional baseline (not installed in CI): these run where `python3 -c 'import torch'` works.
const python = findTorchPython();

describe('interleaved timing', () => {
  it('alternates one call of ours with one of each baseline, after a warm-up of each', async () => {
    const calls: string[] = [];
    const step = (name: string) => async () => {
      calls.push(name);
      return calls.length;
    };
    const result = await interleaved(step('ours'), [step('a'), step('b')], 2);
    expect(calls).toEqual(['ours', 'a', 'b', 'ours', 'a', 'b', 'ours', 'a', 'b']);
    expect(result.ours).toEqual([4, 7]);
    expect(result.theirs).toEqual([
      [5, 8],
      [6, 9],
    ]);
  });
});

describe.skipIf(!python)('PyTorch baseline', () => {
  it("computes the fused kernel's loss on the same inputs (forward KL × T² + hard CE; reverse KL, JSD) and times each call", async () => {
    const rows = 3;
    const vocab = 50;
    const z = Float32Array.from({ length: rows * vocab }, (_, i) => Math.sin(i * 0.7) * 3);
    const t = Float32Array.from({ length: rows * vocab }, (_, i) => Math.cos(i * 0.3) * 4);
    const labels = Int32Array.from([1, 7, 49]);
    const hyper = { temperature: 2, softWeight: 0.5, hardWeight: 0.5 };
    const want = cpuKdLoss(z, t, labels, rows, vocab, hyper, new Float32Array(rows * vocab));
    const log: string[] = [];
    await withTorch(
      { python: python! },
      (line) => log.push(line),
      async ([torch]) => {
        expect(torch, log.join('\n')).toBeDefined();
        expect(torch!.info.threads).toBeGreaterThan(0);
        await torch!.load('z', z, [rows, vocab]);
        await torch!.load('t', t, [rows, vocab]);
        await torch!.load('labels', labels, [rows]);
        const answer = await torch!.time({ op: 'kd-loss', z: 'z', t: 't', labels: 'labels', T: 2, softWeight: 0.5, hardWeight: 0.5 });
        expect(answer.ms).toBeGreaterThan(0);
        expect(Math.abs((answer.loss as number) - want) / Math.abs(want)).toBeLessThan(1e-5);
        // The other divergences, as docs/kernels.md defines them, against the float64 reference.
        for (const [divergence, beta] of [
          ['reverse-kl', undefined],
          ['jsd', 0.3],
        ] as const) {
          // JSON drops `beta: undefined`: reverse KL's request carries none.
          const other = await torch!.time({
            op: 'kd-loss',
            z: 'z',
            t: 't',
            labels: 'labels',
            T: 3,
            softWeight: 0.5,
            hardWeight: 0.5,
            divergence,
            beta,
          });
          const reference = kdLossReference({
            rows,
            vocab,
            studentLogits: z,
            teacher: { kind: 'dense', logits: t },
            labels,
            divergence,
            ...(beta === undefined ? {} : { beta }),
            temperature: 3,
            softWeight: 0.5,
            hardWeight: 0.5,
          }).total;
          expect(Math.abs((other.loss as number) - reference) / reference, divergence).toBeLessThan(1e-5);
        }
        await expect(
          torch!.time({ op: 'kd-loss', z: 'missing', t: 't', labels: 'labels', T: 2, softWeight: 1, hardWeight: 0 }),
        ).rejects.toThrow(/KeyError/);
      },
    );
  }, 120_000);
});
