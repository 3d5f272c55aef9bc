import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '@distillery/core';
import { bufferPool } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import {
  formatTable,
  recordResult,
  renderMarkdown,
  runSuites,
  saveResults,
  suites,
  type BenchContext,
  type BenchDocument,
  type BenchResult,
  type BenchSuite,
} from '../src/index.js';
import { fusedLinearKd, matmulCase, mlpTraining, type MatmulSetting } from '../src/suites/train.js';
import type { TorchBaseline } from '../src/baselines/torch.js';
import { benchDocument, measuredRow } from './fixtures.js';

const row = (suite: string, rows: number, median: number): BenchResult => measuredRow(suite, median, { params: { rows } });
const document = benchDocument;

/** A sweep of three cases whose third loses the device, the way a long run on a real GPU ends. */
const sweepThatDies: BenchSuite = {
  name: 'sweep',
  description: 'records two cases, then its third throws',
  needsGpu: false,
  async run(ctx) {
    const results: BenchResult[] = [];
    for (const rows of [64, 1024]) results.push(recordResult(ctx, row('sweep', rows, rows / 64)));
    throw new DistilleryError('E_DEVICE_LOST', 'the GPU device was lost (reason: unknown)', { reason: 'unknown' });
  },
};

describe('results a suite recorded before it threw are kept', () => {
  it('the document has both finished cases next to the failure, which counts them; the next suite still runs', async () => {
    const lines: string[] = [];
    const doc = await runSuites(
      [
        sweepThatDies,
        // Records as it goes and also returns its array: each result once.
        { name: 'after', description: 'fine', needsGpu: false, run: async (ctx) => [recordResult(ctx, row('after', 8, 1))] },
      ],
      { quick: true, options: {}, log: (line) => lines.push(line) },
    );
    expect(doc.results.map((r) => [r.suite, r.params.rows])).toEqual([
      ['sweep', 64],
      ['sweep', 1024],
      ['after', 8],
    ]);
    expect(doc.failures).toEqual([
      { suite: 'sweep', code: 'E_DEVICE_LOST', message: 'the GPU device was lost (reason: unknown)', kept: 2 },
    ]);
    expect(lines).toContain('sweep FAILED (E_DEVICE_LOST) (2 finished results kept): the GPU device was lost (reason: unknown)');
    expect(formatTable(doc)).toContain('FAILED sweep (E_DEVICE_LOST) (2 finished results kept): the GPU device was lost');
    expect(renderMarkdown([doc])).toContain(
      '- `sweep` (E_DEVICE_LOST) (2 finished results kept): the GPU device was lost (reason: unknown)',
    );
  });

  it('saving replaces only the cases the failed suite re-measured and keeps its older rows; a completed run replaces them all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-partial-'));
    await saveResults(
      dir,
      document({ results: [row('sweep', 64, 10), row('sweep', 1024, 20), row('sweep', 4096, 30), row('other', 1, 5)] }),
    );
    const partial = await runSuites([sweepThatDies], { quick: true, options: {}, log: () => {} });
    const path = await saveResults(dir, { ...partial, adapter: document({}).adapter });
    let saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    // In place, in the sweep's order: the two new rows, then 4,096 from the earlier run; other suites untouched.
    expect(saved.results.map((r) => [r.suite, r.params.rows, r.ms.median])).toEqual([
      ['sweep', 64, 1],
      ['sweep', 1024, 16],
      ['sweep', 4096, 30],
      ['other', 1, 5],
    ]);
    expect(saved.failures).toEqual([
      { suite: 'sweep', code: 'E_DEVICE_LOST', message: 'the GPU device was lost (reason: unknown)', kept: 2 },
    ]);
    // A case the earlier run did not have is added; the failure record is this run's.
    await saveResults(dir, document({ results: [row('sweep', 8, 2)], failures: [{ suite: 'sweep', message: 'again', kept: 1 }] }));
    saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    expect(saved.results.map((r) => [r.suite, r.params.rows])).toEqual([
      ['sweep', 64],
      ['sweep', 1024],
      ['sweep', 4096],
      ['other', 1],
      ['sweep', 8],
    ]);
    expect(saved.failures).toEqual([{ suite: 'sweep', message: 'again', kept: 1 }]);
    // The suite completing is its whole record again: its old rows and its failure go.
    await saveResults(dir, document({ results: [row('sweep', 64, 3)] }));
    saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    expect(saved.results.map((r) => [r.suite, r.params.rows, r.ms.median])).toEqual([
      ['other', 1, 5],
      ['sweep', 64, 3],
    ]);
    expect(saved.failures).toBeUndefined();
  });
});

/** A PyTorch baseline whose process died: every request fails (as the child's closed pipe would). */
const deadTorch = new Proxy(
  { name: 'pytorch-cpu', describe: () => ({}) },
  {
    get: (target, key) =>
      key in target ? target[key as keyof typeof target] : () => Promise.reject(new Error('the PyTorch process exited (code 1)')),
  },
) as unknown as TorchBaseline;

gpuDescribe('train cases release their tensors when they throw', () => {
  const settings: MatmulSetting[] = [{ name: 'tuned', tile: false }];

  gpuTest(
    'matmul, fused-linear-kd and the MLP step: pool bytes in use are back where they were',
    async ({ device }) => {
      const ctx: BenchContext = { device, quick: true, options: { runs: '1' }, log: () => {} };
      const pool = bufferPool(device);
      const cases: Array<[string, () => Promise<unknown>]> = [
        ['matmul', () => matmulCase(ctx, 64, 'tfjs off', [deadTorch], settings)],
        ['fused-linear-kd', () => fusedLinearKd(ctx, 8, [deadTorch], settings)],
        ['mlp', () => mlpTraining(ctx, 'tfjs off', [deadTorch], settings)],
      ];
      for (const [name, run] of cases) {
        const before = pool.stats();
        await expect(run(), name).rejects.toThrow('the PyTorch process exited (code 1)');
        const after = pool.stats();
        // The case did allocate (and reached PyTorch after its own measurements), then gave it all back.
        expect(after.peakBytesInUse, name).toBeGreaterThan(before.bytesInUse);
        expect(after.bytesInUse, name).toBe(before.bytesInUse);
        pool.resetPeak();
      }
    },
    60_000,
  );
});

gpuDescribe('distillery-bench --json --save with a suite that fails partway', () => {
  gpuTest(
    'prints and saves the case kd-loss finished before its next one threw, next to older rows',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bench-bin-partial-'));
      const bin = new URL('../dist/bin.js', import.meta.url).pathname;
      // rows=8 is measured; rows=x is [NaN, 1000] logits, which throws E_SHAPE_MISMATCH.
      const run = () =>
        promisify(execFile)(
          'node',
          [bin, 'kd-loss', '--quick', '--rows', '8,x', '--vocab', '1000', '--no-torch', '--json', '--save', '--results-dir', dir],
          {
            maxBuffer: 1 << 24,
          },
        ).catch((error: unknown) => error) as Promise<{ code: number; stdout: string; stderr: string }>;
      const first = await run();
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/^distillery-bench: 1 suite\(s\) failed: kd-loss \(E_SHAPE_MISMATCH, 1 result kept\)$/m);
      const printed = JSON.parse(first.stdout) as BenchDocument;
      expect(printed.results.map((r) => [r.suite, r.params.rows, r.params.vocab])).toEqual([['kd-loss', 8, 1000]]);
      expect(printed.results[0]!.ms.runs).toBeGreaterThan(0);
      expect(printed.failures).toMatchObject([{ suite: 'kd-loss', code: 'E_SHAPE_MISMATCH', kept: 1 }]);

      // An older run's rows: the same case (replaced) and one this run never reached (kept).
      const [file] = await readdir(dir);
      const path = join(dir, file!);
      const older = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
      const measured = older.results[0]!;
      const reached = { ...measured, ms: { ...measured.ms, median: -1 } };
      const unreached = { ...measured, params: { ...measured.params, rows: 4096 }, ms: { ...measured.ms, median: -2 } };
      await writeFile(path, JSON.stringify({ ...older, results: [reached, unreached], failures: undefined }));
      await run();
      const saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
      expect(saved.results.map((r) => [r.params.rows, r.ms.median === -1])).toEqual([
        [8, false],
        [4096, false],
      ]);
      expect(saved.results[1]!.ms.median).toBe(-2);
      expect(saved.failures).toMatchObject([{ suite: 'kd-loss', kept: 1 }]);
    },
    60_000,
  );
});

gpuDescribe('the llama suite releases its models and tensors when it throws', () => {
  gpuTest(
    'after the teacher forward and after the KD step: pool bytes in use are back where they were',
    async ({ device }) => {
      const llama = suites.find((s) => s.name === 'llama')!;
      const pool = bufferPool(device);
      // The runner's `record` throwing at the n-th result: the suite fails with everything it has allocated by then held.
      for (const failAt of [1, 2]) {
        let recorded = 0;
        const ctx: BenchContext = {
          device,
          quick: true,
          options: {},
          log: () => {},
          record: () => {
            if (++recorded === failAt) throw new Error(`record ${failAt} failed`);
          },
        };
        const before = pool.stats();
        await expect(llama.run(ctx)).rejects.toThrow(`record ${failAt} failed`);
        const after = pool.stats();
        expect(after.peakBytesInUse, `fail at ${failAt}`).toBeGreaterThan(before.bytesInUse);
        expect(after.bytesInUse, `fail at ${failAt}`).toBe(before.bytesInUse);
        pool.resetPeak();
      }
    },
    60_000,
  );
});
