import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCpuAdapter } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { formatTable, renderMarkdown, runSuites, saveResults, summarize, suites, type BenchDocument } from '../src/index.js';

const doc = (suite: string, median: number): BenchDocument => ({
  schema: 1,
  adapter: { vendor: 'acme', architecture: 'rdna9', device: 'x', description: 'Acme X', backend: 'dawn-node' },
  host: { os: 'linux', cpu: 'cpu', cores: 2, node: 'v20' },
  date: '2026-01-01T00:00:00.000Z',
  results: [
    {
      suite,
      name: 'fused',
      params: { rows: 64 },
      ms: { median, min: median, max: median, runs: 3 },
      gbps: 4,
      baselines: { tfjs: { ms: { median: median * 10, min: 0, max: 0 } } },
    },
  ],
});

describe('benchmark format', () => {
  it('summarizes samples into median/min/max', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, runs: 3 });
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
  });

  it('merges saved results per adapter: a rerun replaces its suites and keeps the others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-'));
    await saveResults(dir, doc('kd-loss', 5));
    const path = await saveResults(dir, doc('softmax', 2));
    await saveResults(dir, doc('kd-loss', 4));
    const saved = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    expect(path.endsWith('acme-rdna9.json')).toBe(true);
    expect(saved.results.map((r) => [r.suite, r.ms.median])).toEqual([
      ['softmax', 2],
      ['kd-loss', 4],
    ]);
  });

  it('renders tables with speed-ups against baselines', () => {
    expect(formatTable(doc('kd-loss', 5))).toContain('tfjs 50.00 ms (10.0x)');
    const md = renderMarkdown([doc('kd-loss', 5)]);
    expect(md).toContain('## acme rdna9 x');
    expect(md).toContain('| fused | rows=64 | 5.000 |');
    expect(md).toContain('50.00 (10.0x)');
    const noted = renderMarkdown(
      [{ ...doc('kd-loss', 5), host: { ...doc('kd-loss', 5).host, loadAverage: { start: 12.5, end: 30 } } }],
      ['Shared machine: *loaded*.'],
    );
    expect(noted).toContain('load average 12.5 → 30.0 during the run');
    expect(noted.indexOf('Shared machine: *loaded*.')).toBeGreaterThan(noted.indexOf('## acme rdna9 x'));
    expect(noted.indexOf('Shared machine: *loaded*.')).toBeLessThan(noted.indexOf('### kd-loss'));
  });

  it('every suite has a unique name and a description', () => {
    const names = suites.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('bandwidth');
    expect(suites.every((s) => s.description.length > 10)).toBe(true);
  });
});

gpuDescribe('bandwidth suite', () => {
  gpuTest('reports every copy candidate and a roofline that is the best streaming one, named', async () => {
    const bandwidth = suites.find((s) => s.name === 'bandwidth')!;
    const result = await runSuites([bandwidth], { quick: true, options: {}, log: () => {} });
    expect(result.schema).toBe(1);
    expect(result.adapter?.backend).toBe('dawn-node');
    const rows = result.results;
    const names = new Set(rows.map((r) => r.name));
    expect(names).toContain('wgsl-copy');
    expect(names).toContain('copyBufferToBuffer');
    // lavapipe and SwiftShader are CPUs: the host's own memcpy is a candidate there.
    if (isCpuAdapter({ ...result.adapter!, isFallback: false })) expect(names).toContain('host-memcpy');
    for (const r of rows) {
      expect(r.gbps).toBeGreaterThan(0);
      expect(r.ms.runs).toBe(3);
    }
    const roofline = rows.find((r) => r.name === 'roofline')!;
    const streaming = rows.filter((r) => r.name !== 'roofline' && !r.metrics?.excludedFromRoofline);
    expect(roofline.gbps).toBe(Math.max(...streaming.map((r) => r.gbps!)));
    const best = streaming.find((r) => r.gbps === roofline.gbps)!;
    expect(String(roofline.params.source).startsWith(best.name)).toBe(true);
  });
});

gpuDescribe('step-by-step suite', () => {
  gpuTest('times standard and step-by-step student steps; a step-by-step step processes twice the sequences', async () => {
    const suite = suites.find((s) => s.name === 'step-by-step')!;
    const result = await runSuites([suite], { quick: true, options: {}, log: () => {} });
    const [standard, stepByStep] = result.results;
    expect(standard).toMatchObject({ suite: 'step-by-step', name: 'student-train-step', params: { mode: 'standard', batch: 4 } });
    expect(stepByStep!.params.mode).toBe('step-by-step');
    expect(standard!.metrics!.sequencesPerStep).toBe(4);
    expect(stepByStep!.metrics!.sequencesPerStep).toBe(8);
    for (const r of [standard!, stepByStep!]) {
      expect(r.metrics!.tokensPerSecond).toBeGreaterThan(0);
      expect(r.metrics!.targetTokensPerSecond).toBeLessThan(r.metrics!.tokensPerSecond!);
    }
  });
});

gpuDescribe('llama suite', () => {
  gpuTest('times the stories260K teacher forward on WebGPU against node-llama-cpp, and a whole KD student step', async () => {
    const suite = suites.find((s) => s.name === 'llama')!;
    const result = await runSuites([suite], { quick: true, options: {}, log: () => {} });
    const [forward, step] = result.results;
    expect(forward).toMatchObject({
      suite: 'llama',
      name: 'teacher-forward',
      params: { model: 'stories260K', sequences: 2, context: 64, tokens: 128 },
    });
    expect(forward!.metrics!.parameters).toBe(292_800);
    expect(forward!.metrics!.tokensPerSecond).toBeGreaterThan(0);
    // Same token count on llama.cpp (1 thread), teacher-forced, every position's distribution.
    expect(forward!.baselines!['llama.cpp-cpu-1t']!.tokensPerSecond).toBeGreaterThan(0);
    expect(forward!.metrics!.llamaCpp1tTokensPerSecond).toBeGreaterThan(0);
    expect(step).toMatchObject({ suite: 'llama', name: 'kd-train-step' });
    expect(step!.metrics!.tokensPerSecond).toBeGreaterThan(0);
    // The KD step contains a teacher forward: it cannot be faster than one.
    expect(step!.ms.median).toBeGreaterThan(forward!.ms.min * 0.5);
  });
});
