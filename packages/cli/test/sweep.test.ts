import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect } from 'vitest';
import type { SupervisedFit } from '@distillery/scaling-laws';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { runCli } from '../src/index.js';
import type { SweepReport } from '../src/sweep/experiment.js';
import { captureIO } from './capture-io.js';

const example = resolve(__dirname, '../../../examples/tinystories/sweep.json');

gpuDescribe('distillery sweep --quick', () => {
  let out: string;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  gpuTest(
    'grid → runs files that `distillery fit` reads as is → predictions before the checks → --check → a rerun reads everything back',
    async () => {
      out = await mkdtemp(join(tmpdir(), 'sweep-quick-'));
      const early = captureIO();
      expect(await runCli(['sweep', example, '--quick', '--check', '--out', out], early)).not.toBe(0);
      expect(early.err).toMatch(/E_NOT_FOUND: --check trains the students of .*predictions\.json, which does not exist/);

      const io = captureIO();
      expect(await runCli(['sweep', example, '--quick', '--out', out, '--json'], io)).toBe(0);
      const report = JSON.parse(io.out) as SweepReport;
      const grid = report.runs.filter((r) => r.role === 'grid');
      expect(grid).toHaveLength(18);
      // Stories260K on held-out TinyStories: about 1.3-2.2 nats/token; a few steps from random init: near ln 512.
      expect(report.teacher.heldOutLoss).toBeGreaterThan(0.8);
      expect(report.teacher.heldOutLoss).toBeLessThan(2.5);
      for (const r of grid) {
        expect(Number.isFinite(r.loss)).toBe(true);
        expect(r.loss).toBeLessThan(Math.log(512) + 0.5);
        expect(r.loss).toBeGreaterThan(report.teacher.heldOutLoss);
        expect(r.teacherLoss).toBe(report.teacher.heldOutLoss);
        expect(r.flops).toBeCloseTo(6 * r.params * r.tokens, 6);
        expect(r.totalParams).toBeGreaterThan(r.params);
      }
      expect(report.predictionsWritten).toBe(true);
      expect(report.checks).toBeUndefined();

      // The runs files round-trip through `distillery fit`: same runs, same law as the sweep's fit.
      const fitIo = captureIO({ cwd: out });
      const s = report.settings.sweep;
      expect(
        await runCli(
          ['fit', 'supervised-runs.csv', '--form', s.form, '--bootstrap', String(s.bootstrap), '--starts', String(s.starts), '--json'],
          fitIo,
        ),
      ).toBe(0);
      const cliFit = JSON.parse(fitIo.out) as SupervisedFit;
      const sweepFit = JSON.parse(await readFile(join(out, 'supervised-fit.json'), 'utf8')) as SupervisedFit;
      expect(cliFit.runs).toBe(9);
      expect(cliFit.law).toEqual(sweepFit.law);
      const distIo = captureIO({ cwd: out });
      expect(
        await runCli(
          [
            'fit',
            'distillation-runs.csv',
            '--law',
            'distillation',
            '--supervised',
            'supervised-runs.csv',
            '--form',
            s.form,
            '--bootstrap',
            '0',
          ],
          distIo,
        ),
      ).toBe(0);
      expect(distIo.out).toContain('Distillation law fitted to 9 runs from distillation-runs.csv');
      // One teacher in the whole sweep: the teacher-dependent coefficients cannot be determined, and the report says so.
      expect(distIo.out).toMatch(/Verdict: NOT TRUSTWORTHY[\s\S]*\[narrow-design\][^\n]*teacher/);

      const predictions = await readFile(join(out, 'predictions.json'), 'utf8');
      const check = captureIO();
      expect(await runCli(['sweep', example, '--quick', '--check', '--out', out, '--json'], check)).toBe(0);
      const checked = JSON.parse(check.out) as SweepReport;
      expect(checked.predictionsWritten).toBe(false);
      expect(await readFile(join(out, 'predictions.json'), 'utf8')).toBe(predictions);
      // The larger student with both methods is trained; the compute-optimal one too unless it needs more than check.maxSteps steps.
      expect(checked.checks!.filter((c) => c.role === 'check-size')).toHaveLength(2);
      const optimal = [...checked.predictions.checks, ...checked.predictions.skipped].filter((c) => c.role === 'check-optimal');
      expect(optimal.map((c) => c.method).sort()).toEqual(['kd', 'scratch']);
      for (const c of checked.predictions.skipped) expect(c.steps).toBeGreaterThan(checked.settings.sweep.check.maxSteps);
      for (const c of checked.checks!) {
        expect(Number.isFinite(c.measured)).toBe(true);
        expect(c.error).toBeCloseTo(c.measured - c.predicted.loss, 12);
        expect(checked.runs.find((r) => r.id === c.id)!.role).toBe(c.role);
      }
      for (const f of [
        'runs.csv',
        'fits.txt',
        'frontier.svg',
        'supervised-fit.svg',
        'distillation-fit.svg',
        'check.json',
        'predicted-vs-measured.svg',
        'sweep.md',
      ])
        expect(existsSync(join(out, f))).toBe(true);
      expect(await readFile(join(out, 'sweep.md'), 'utf8')).toMatch(/\| q-w64-l2\/kd\/steps-4 \| check-size/);

      // A rerun trains nothing: every run is read back.
      const again = captureIO();
      expect(await runCli(['sweep', example, '--quick', '--check', '--out', out], again)).toBe(0);
      expect(again.err.match(/\(read back\)/g)).toHaveLength(checked.runs.length);
    },
    240_000,
  );
});
