import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '@distillery/core';
import { getGpu, summarizeAdapter, type AcquiredDevice } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import {
  formatTable,
  guardedCase,
  memoryBudget,
  parseByteSize,
  renderMarkdown,
  runSuites,
  saveResults,
  suites,
  unfitReason,
  type BenchDocument,
  type BenchSuite,
} from '../src/index.js';
import { matmulSizes } from '../src/suites/train.js';
import { benchDocument, measuredRow } from './fixtures.js';

const GB = 1e9;
const MiB = 2 ** 20;
const lavapipe = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa', isFallback: true };
const h100 = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100', isFallback: false };

describe('fit: whether a case fits the device', () => {
  const kdLoss4096 = 4096 * 128_256 * 4; // one [4096, 128256] f32 buffer: 2.10 GB

  it('refuses a buffer larger than maxBufferSize, whatever the budget', () => {
    expect(unfitReason([kdLoss4096, 1024], { maxBufferSize: 256 * MiB })).toBe('a 2.10 GB buffer > maxBufferSize 256 MiB');
    expect(unfitReason([kdLoss4096], { maxBufferSize: 256 * MiB, budget: 100 * GB })).toBe('a 2.10 GB buffer > maxBufferSize 256 MiB');
    expect(unfitReason([256 * MiB], { maxBufferSize: 256 * MiB })).toBeUndefined();
  });

  it('refuses buffers whose total exceeds the budget; no budget means only the per-buffer limit', () => {
    const three = [kdLoss4096, kdLoss4096, kdLoss4096];
    expect(unfitReason(three, { maxBufferSize: 4 * 2 ** 30, budget: 4 * 2 ** 30 })).toBe('needs 6.30 GB in 3 buffers > budget 4 GiB');
    expect(unfitReason(three, { maxBufferSize: 4 * 2 ** 30, budget: 8.43e9 })).toBeUndefined();
    expect(unfitReason(three, { maxBufferSize: 4 * 2 ** 30 })).toBeUndefined();
    expect(unfitReason([5e6], { maxBufferSize: 1e9, budget: 1e6 })).toBe('needs 5.00 MB in 1 buffer > budget 1.00 MB');
  });

  it('reads --max-gpu-bytes as bytes, decimal or binary units, or none; anything else is E_BAD_VALUE naming the option', () => {
    expect(parseByteSize('8000000000')).toBe(8e9);
    expect(parseByteSize('8e9')).toBe(8e9);
    expect(parseByteSize('8GB')).toBe(8e9);
    expect(parseByteSize('6 GiB')).toBe(6 * 2 ** 30);
    expect(parseByteSize('512MiB')).toBe(512 * MiB);
    expect(parseByteSize('none')).toBeNull();
    for (const bad of ['lots', '-1', '0', '8 parsecs', 'true']) {
      let error: unknown;
      try {
        parseByteSize(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DistilleryError);
      expect(error).toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'max-gpu-bytes', value: bad } });
    }
  });

  it('budgets a CPU adapter by default, a GPU only when asked', () => {
    expect(memoryBudget(undefined, lavapipe, 8e9)).toEqual({ bytes: 8e9, source: 'default on a CPU adapter' });
    // SwiftShader in a browser does not say isFallback everywhere: its name is enough.
    expect(memoryBudget(undefined, { ...lavapipe, isFallback: false, description: 'SwiftShader Device' }, 1 << 30).bytes).toBe(1 << 30);
    expect(memoryBudget(undefined, h100, 8e9)).toEqual({ source: 'no static budget on a GPU' });
    expect(memoryBudget('70GB', h100, 8e9)).toEqual({ bytes: 70e9, source: '--max-gpu-bytes' });
    expect(memoryBudget('none', lavapipe, 8e9).bytes).toBeUndefined();
  });
});

describe('sizes scaled to the adapter', () => {
  it('the matmul sweep adds 4,096³ on a GPU; CPU adapters, --quick and --sizes keep theirs', () => {
    const gpu = { ...h100, backend: 'dawn-node' };
    const cpu = { ...lavapipe, backend: 'dawn-node' };
    expect(matmulSizes({ options: {}, quick: false, adapter: gpu })).toEqual([256, 1024, 2048, 4096]);
    expect(matmulSizes({ options: {}, quick: false, adapter: cpu })).toEqual([256, 1024, 2048]);
    expect(matmulSizes({ options: {}, quick: true, adapter: gpu })).toEqual([256, 1024]);
    expect(matmulSizes({ options: { sizes: '512' }, quick: false, adapter: gpu })).toEqual([512]);
  });
});

const document = benchDocument;
const measured = (suite: string, median: number) => measuredRow(suite, median, { name: 'fused' });

describe('skipped cases and failed suites in the record', () => {
  const skipped = {
    suite: 'kd-loss',
    name: 'fused',
    params: { rows: 4096, vocab: 128_256 },
    ms: { median: 0, min: 0, max: 0, runs: 0 },
    skipped: 'a 2.10 GB buffer > maxBufferSize 256 MiB',
  };

  it('renders a skipped case as a row that says why, with the measured columns empty', () => {
    const md = renderMarkdown([document({ results: [{ ...measured('kd-loss', 5), metrics: { wallMs: 6 } }, skipped] })]);
    expect(md).toContain('| name | params | median ms | min ms | GB/s | GFLOP/s | wallMs |');
    expect(md).toContain('| fused | rows=64 | 5.000 | 5.000 |  |  | 6.000 |');
    expect(md).toContain('| fused | rows=4096, vocab=128256 | skipped: a 2.10 GB buffer > maxBufferSize 256 MiB |  |  |  |  |');
    expect(formatTable(document({ results: [skipped] }))).toMatch(
      /rows=4096 vocab=128256 +skipped +a 2\.10 GB buffer > maxBufferSize 256 MiB/,
    );
  });

  it('renders the failed suites of a run under their adapter', () => {
    const doc = document({
      results: [measured('softmax', 2)],
      failures: [{ suite: 'kd-loss', code: 'E_DEVICE_LOST', message: 'lost | gone\nfor good' }],
    });
    const md = renderMarkdown([doc]);
    expect(md).toContain('- `kd-loss` (E_DEVICE_LOST): lost \\| gone for good');
    expect(md.indexOf('`kd-loss` (E_DEVICE_LOST)')).toBeLessThan(md.indexOf('### softmax'));
    expect(formatTable(doc)).toContain('FAILED kd-loss (E_DEVICE_LOST): lost | gone');
  });

  it('saving keeps a failed suite’s earlier rows with its failure; a later good run of it clears the failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-failures-'));
    await saveResults(dir, document({ results: [measured('kd-loss', 5), measured('softmax', 2)] }));
    const path = await saveResults(dir, document({ results: [measured('softmax', 3)], failures: [{ suite: 'kd-loss', message: 'boom' }] }));
    let saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    expect(saved.results.map((r) => [r.suite, r.ms.median])).toEqual([
      ['kd-loss', 5],
      ['softmax', 3],
    ]);
    expect(saved.failures).toEqual([{ suite: 'kd-loss', message: 'boom' }]);
    // Another suite's run leaves the failure; kd-loss running again clears it.
    await saveResults(dir, document({ results: [measured('softmax', 4)] }));
    expect((JSON.parse(await readFile(path, 'utf8')) as BenchDocument).failures).toHaveLength(1);
    await saveResults(dir, document({ results: [measured('kd-loss', 6)] }));
    saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    expect(saved.failures).toBeUndefined();
    expect(saved.results.map((r) => [r.suite, r.ms.median])).toEqual([
      ['softmax', 4],
      ['kd-loss', 6],
    ]);
  });
});

const fakeSuite = (name: string, run: BenchSuite['run'], needsGpu = false): BenchSuite => ({
  name,
  description: `fake ${name}`,
  needsGpu,
  run,
});

describe('runSuites: one suite failing does not stop the run', () => {
  it('records a suite that throws (code and message) and still runs the next one', async () => {
    const ran: string[] = [];
    const doc = await runSuites(
      [
        fakeSuite('first', async () => {
          ran.push('first');
          throw new DistilleryError('E_BAD_VALUE', 'no good', { field: 'x', value: 1 });
        }),
        fakeSuite('second', async () => {
          ran.push('second');
          return [measured('second', 1)];
        }),
        fakeSuite('third', () => Promise.reject(new Error('plain error'))),
      ],
      { quick: true, options: {}, log: () => {} },
    );
    expect(ran).toEqual(['first', 'second']);
    expect(doc.results.map((r) => r.suite)).toEqual(['second']);
    expect(doc.failures).toEqual([
      { suite: 'first', code: 'E_BAD_VALUE', message: 'no good' },
      { suite: 'third', message: 'plain error' },
    ]);
    expect(doc.adapter).toBeNull();
  });

  it('a run without failures has no failures field (schema-1 documents stay as they were)', async () => {
    const doc = await runSuites([fakeSuite('ok', async () => [measured('ok', 1)])], { quick: true, options: {}, log: () => {} });
    expect('failures' in doc).toBe(false);
  });

  it('hands the document so far to checkpoint after each suite but the last, so --save keeps finished suites if the process dies', async () => {
    const seen: Array<{ suites: string[]; failures: string[] }> = [];
    const doc = await runSuites(
      [
        fakeSuite('one', async () => [measured('one', 1)]),
        fakeSuite('two', () => Promise.reject(new Error('broke'))),
        fakeSuite('three', async () => [measured('three', 1)]),
      ],
      {
        quick: true,
        options: {},
        log: () => {},
        checkpoint: async (soFar) =>
          void seen.push({ suites: soFar.results.map((r) => r.suite), failures: (soFar.failures ?? []).map((f) => f.suite) }),
      },
    );
    expect(seen).toEqual([
      { suites: ['one'], failures: [] },
      { suites: ['one'], failures: ['two'] },
    ]);
    expect(doc.results.map((r) => r.suite)).toEqual(['one', 'three']);
  });

  it('no checkpoint while the adapter is unknown and a GPU suite is still to come (it would be filed under no adapter)', async () => {
    const seen: string[][] = [];
    const acquired: AcquiredDevice[] = [];
    await runSuites(
      [
        fakeSuite('cpu-first', async () => [measured('cpu-first', 1)]),
        fakeSuite('gpu', async () => [measured('gpu', 1)], true),
        fakeSuite('cpu-last', async () => [measured('cpu-last', 1)]),
      ],
      {
        quick: true,
        options: {},
        log: () => {},
        acquire: async () => {
          const fake = { device: { lost: new Promise(() => {}) }, info: { ...lavapipe, backend: 'fake' } } as unknown as AcquiredDevice;
          acquired.push(fake);
          return fake;
        },
        checkpoint: async (soFar) => void seen.push(soFar.results.map((r) => r.suite)),
      },
    );
    expect(acquired).toHaveLength(1);
    expect(seen).toEqual([['cpu-first', 'gpu']]);
  });

  it('the bin saves what was measured, names the failed suite and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-bin-'));
    const bin = new URL('../dist/bin.js', import.meta.url).pathname;
    // --rows x makes kd-loss throw (E_SHAPE_MISMATCH; E_NO_ADAPTER without a GPU); scaling-fit still runs.
    const failure = (await promisify(execFile)(
      'node',
      [bin, 'kd-loss', 'scaling-fit', '--quick', '--rows', 'x', '--no-torch', '--json', '--save', '--results-dir', dir],
      { maxBuffer: 1 << 24 },
    ).catch((error: unknown) => error)) as { code: number; stdout: string; stderr: string };
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/^distillery-bench: 1 suite\(s\) failed: kd-loss( \(E_[A-Z_]+\))?$/m);
    const [file] = await readdir(dir);
    const saved = JSON.parse(await readFile(join(dir, file!), 'utf8')) as BenchDocument;
    expect(saved.failures?.map((f) => f.suite)).toEqual(['kd-loss']);
    expect(new Set(saved.results.map((r) => r.suite))).toEqual(new Set(['scaling-fit']));
  }, 60_000);

  it('refuses a bad --max-gpu-bytes before running anything', async () => {
    const bin = new URL('../dist/bin.js', import.meta.url).pathname;
    const failure = (await promisify(execFile)('node', [bin, 'kd-loss', '--max-gpu-bytes', 'lots']).catch((error: unknown) => error)) as {
      code: number;
      stderr: string;
    };
    expect(failure.code).toBe(2);
    expect(failure.stderr).toContain('--max-gpu-bytes must be a positive byte count');
  });
});

/** A device with WebGPU's default limits (maxBufferSize 256 MiB), as a browser gives by default. */
async function defaultLimitsDevice(): Promise<AcquiredDevice> {
  const adapter = (await (await getGpu()).requestAdapter())!;
  const device = await adapter.requestDevice({ label: 'default-limits' });
  return { device, adapter, info: summarizeAdapter(adapter, 'dawn-node') };
}

gpuDescribe('runSuites on a GPU: lost devices and cases that do not fit', () => {
  gpuTest('a suite that loses the device fails alone; the next GPU suite gets a new device', async () => {
    const seen: GPUDevice[] = [];
    const doc = await runSuites(
      [
        fakeSuite(
          'loses-device',
          async (ctx) => {
            seen.push(ctx.device!);
            ctx.device!.destroy();
            throw new Error('the device went away');
          },
          true,
        ),
        fakeSuite(
          'after',
          async (ctx) => {
            seen.push(ctx.device!);
            const buffer = ctx.device!.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
            await buffer.mapAsync(GPUMapMode.READ);
            buffer.destroy();
            return [measured('after', 1)];
          },
          true,
        ),
      ],
      { quick: true, options: {}, log: () => {} },
    );
    expect(doc.failures).toEqual([{ suite: 'loses-device', message: 'the device went away' }]);
    expect(doc.results.map((r) => r.suite)).toEqual(['after']);
    expect(seen).toHaveLength(2);
    expect(seen[1]).not.toBe(seen[0]);
    expect(doc.adapter?.backend).toBe('dawn-node');
  });

  gpuTest('a case that runs out of memory is skipped with the error; any other error still fails the suite', async ({ device }) => {
    const lines: string[] = [];
    const ctx = { device, quick: true, options: {}, log: (line: string) => lines.push(line) };
    const spec = { suite: 'fake', name: 'case', params: { rows: 1 }, buffers: [1024] };
    const oom = await guardedCase(ctx, spec, () =>
      Promise.reject(new DistilleryError('E_GPU_OOM', 'the device ran out of memory in "fill"\nmore', { kernel: 'fill' })),
    );
    expect(oom).toMatchObject({
      suite: 'fake',
      name: 'case',
      ms: { runs: 0 },
      skipped: 'out of memory: E_GPU_OOM: the device ran out of memory in "fill"',
    });
    expect(lines).toEqual(['fake case rows=1: skipped, out of memory: E_GPU_OOM: the device ran out of memory in "fill"']);
    await expect(guardedCase(ctx, spec, () => Promise.reject(new Error('a kernel bug')))).rejects.toThrow('a kernel bug');
    // The scope was popped on both paths: the fixture's own scopes still balance.
    const fits = await guardedCase({ ...ctx, memoryBudget: 100 }, spec, () => Promise.reject(new Error('never run')));
    expect(fits.skipped).toBe('needs 1.02 kB in 1 buffer > budget 100 bytes');
  });

  gpuTest(
    'a kd-loss case whose logits exceed maxBufferSize is a skipped row; the case that fits is measured',
    async () => {
      const kdLoss = suites.find((s) => s.name === 'kd-loss')!;
      const lines: string[] = [];
      const doc = await runSuites([kdLoss], {
        quick: true,
        // [1024, 128256] f32 is 525 MB per buffer, over the default 256 MiB; [8, 128256] is 4 MB.
        options: { rows: '8,1024', vocab: '128256', dtype: 'f32', 'no-torch': 'true' },
        log: (line) => lines.push(line),
        acquire: defaultLimitsDevice,
      });
      expect(doc.failures).toBeUndefined();
      const [small, big] = doc.results;
      expect(small).toMatchObject({ params: { rows: 8, vocab: 128_256 } });
      expect(small!.skipped).toBeUndefined();
      expect(small!.ms.runs).toBeGreaterThan(0);
      expect(big).toMatchObject({
        suite: 'kd-loss',
        name: 'fused forward-KL + CE',
        params: { rows: 1024, vocab: 128_256, dtype: 'f32' },
        ms: { runs: 0 },
        skipped: 'a 525.34 MB buffer > maxBufferSize 256 MiB',
      });
      expect(lines.some((l) => l.includes('rows=1024') && l.includes('skipped, a 525.34 MB buffer > maxBufferSize 256 MiB'))).toBe(true);
      expect(renderMarkdown([doc])).toContain('skipped: a 525.34 MB buffer > maxBufferSize 256 MiB');
    },
    60_000,
  );
});
