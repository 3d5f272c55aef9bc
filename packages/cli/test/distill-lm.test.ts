import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { runCli } from '../src/index.js';
import type { DistillLmReport } from '../src/distill-lm/experiment.js';
import { captureIO } from './capture-io.js';

const example = resolve(__dirname, '../../../examples/tinystories/distill-lm.json');

gpuDescribe('distillery distill-lm --quick', () => {
  let out: string;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  gpuTest(
    'the example config, end to end: teacher GGUF → four methods → results.json → student GGUF that node-llama-cpp runs like WebGPU',
    async () => {
      out = await mkdtemp(join(tmpdir(), 'distill-lm-quick-'));
      const io = captureIO();
      expect(await runCli(['distill-lm', example, '--quick', '--out', out, '--json'], io)).toBe(0);
      const report = JSON.parse(io.out) as DistillLmReport;
      const saved = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as DistillLmReport;
      expect(saved.summary).toEqual(report.summary);
      expect(report.quick).toBe(true);
      // The teacher (the vendored stories260K) on held-out TinyStories: about 1.3-1.5 nats/token.
      expect(report.teacher.heldOut.nats).toBeGreaterThan(0.8);
      expect(report.teacher.heldOut.nats).toBeLessThan(2.2);
      expect(report.corpus.note).toMatch(/teacher has seen/);
      expect(report.runs.map((r) => r.method)).toEqual(['scratch', 'kd', 'kd-topk-cache', 'kd-hidden']);
      for (const run of report.runs) {
        expect(run.steps).toBe(report.settings.steps);
        // A few steps from a random init: below the uniform ln 512 = 6.24, far above the teacher.
        expect(Number.isFinite(run.heldOut.nats)).toBe(true);
        expect(run.heldOut.nats).toBeLessThan(Math.log(512) + 0.5);
        expect(run.heldOut.agreement).toBeGreaterThanOrEqual(0);
        expect(run.heldOut.agreement).toBeLessThanOrEqual(1);
        expect(run.seconds).toBeGreaterThan(0);
        expect(run.sample.startsWith(report.settings.evaluate.prompt)).toBe(true);
        expect(existsSync(join(out, 'runs', run.size, run.method, `seed-${run.seed}`, 'model.safetensors'))).toBe(true);
      }
      expect(report.cache?.rows).toBeGreaterThan(0);
      expect(existsSync(join(out, 'results.md'))).toBe(true);
      // The best student, exported: llama.cpp loads the GGUF and agrees with the WebGPU forward.
      expect(report.exports).toHaveLength(1);
      const exported = report.exports[0]!;
      expect(existsSync(exported.gguf!)).toBe(true);
      expect(JSON.parse(await readFile(join(exported.huggingFace!, 'config.json'), 'utf8')).architectures).toEqual(['LlamaForCausalLM']);
      expect(exported.check!.positions).toBeGreaterThan(50);
      expect(exported.check!.maxAbsLogprobDiff).toBeLessThan(1e-3);
      expect(exported.check!.sameText).toBe(true);
      expect(exported.check!.llamaCppText.length).toBeGreaterThan(report.settings.evaluate.prompt.length);

      // A rerun reads every finished run back instead of training it again.
      const again = captureIO();
      expect(await runCli(['distill-lm', example, '--quick', '--out', out], again)).toBe(0);
      expect(again.err.match(/\(read back\)/g)).toHaveLength(4);
      expect(again.out).toContain('teacher GGUF → student GGUF: distillery distill-lm');
    },
    240_000,
  );
});
