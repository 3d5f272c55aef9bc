import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { readModelState } from '@distillery/nn/node';
import { runCli } from '../src/index.js';
import { createDistillRegistry } from '../src/distill/run.js';
import { distillJsonSchema } from '../src/distill/schema.js';
import { readMetricsRows } from '../src/distill/logs.js';
import { captureIO } from './capture-io.js';

const here = import.meta.dirname;
const bin = join(here, '..', 'dist', 'bin.js');
const quick = join(here, '..', '..', '..', 'examples', 'mnist', 'quick.yaml');

/** Runs the built bin; with `killWhen`, SIGKILLs it once the predicate holds (polled). */
function runBin(
  args: string[],
  killWhen?: () => Promise<boolean>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    if (killWhen) {
      const poll = async () => {
        if (await killWhen().catch(() => false)) child.kill('SIGKILL');
        else timer = setTimeout(poll, 20);
      };
      void poll();
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('distill config schema', () => {
  it('the committed distill.schema.json is the one the zod schemas generate', async () => {
    const committed = JSON.parse(await readFile(join(here, '..', 'distill.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(distillJsonSchema(createDistillRegistry()))));
    const teacherNames = committed.properties.teacher.anyOf
      .map((a: { properties?: { name?: { const?: string } } }) => a.properties?.name?.const)
      .filter(Boolean);
    expect(teacherNames).toEqual(['cache', 'ensemble', 'gguf', 'model', 'trained']);
  });

  it('a bad config names the path in the file, the value and what was expected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distill-bad-'));
    const file = join(dir, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({
        data: { train: 'mnist' },
        student: { name: 'mlp', hidden: [8] },
        training: { epochs: 0 },
        loss: { temperature: true },
      }),
    );
    const io = captureIO();
    expect(await runCli(['distill', file], io)).toBe(2);
    expect(io.err).toContain('E_BAD_CONFIG');
    expect(io.err).toContain('training.epochs: expected >= 1, got 0');
    expect(io.err).toMatch(/loss\.temperature: .*got true/);
    expect(io.err).not.toMatch(/\n\s+at /);
  });

  it('a comparison without a teacher or validation data says which key is missing (before any training)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distill-compare-'));
    const base = { data: { train: 'mnist' }, student: { name: 'mlp', hidden: [8] }, training: { epochs: 1 }, compare: { seeds: [1, 2] } };
    await writeFile(join(dir, 'no-teacher.json'), JSON.stringify({ ...base, data: { train: 'mnist', validation: 'mnist' } }));
    await writeFile(join(dir, 'no-validation.json'), JSON.stringify({ ...base, teacher: { name: 'model', path: 'teacher.safetensors' } }));
    await writeFile(join(dir, 'no-seeds.json'), JSON.stringify({ ...base, compare: { seeds: [] } }));
    const noTeacher = captureIO();
    expect(await runCli(['distill', join(dir, 'no-teacher.json')], noTeacher)).toBe(2);
    expect(noTeacher.err).toContain('teacher must be a teacher to distil from');
    const noValidation = captureIO();
    expect(await runCli(['distill', join(dir, 'no-validation.json')], noValidation)).toBe(2);
    expect(noValidation.err).toContain('data.validation must be held-out data');
    const noSeeds = captureIO();
    expect(await runCli(['distill', join(dir, 'no-seeds.json')], noSeeds)).toBe(2);
    expect(noSeeds.err).toContain('compare.seeds');
  });
});

gpuDescribe('distillery distill', () => {
  gpuTest('an unknown plugin name lists the known ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distill-unknown-'));
    const file = join(dir, 'unknown.json');
    await writeFile(
      file,
      JSON.stringify({ data: { train: { name: 'mnist', limitPerClass: 5 } }, student: { name: 'resnet' }, training: { epochs: 1 } }),
    );
    const io = captureIO();
    expect(await runCli(['distill', file], io)).toBe(2);
    expect(io.err).toContain('E_UNKNOWN_PLUGIN');
    expect(io.err).toContain('known student plugins: llama, mlp, model');
  });

  gpuTest('a plugin file named in the config adds a dataset and a callback, and the command says it runs code from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distill-plugin-'));
    await writeFile(
      join(dir, 'my-plugin.mjs'),
      `export const plugins = [
  { kind: 'dataset', name: 'xor', create: ({ rows = 64 }) => {
      const features = new Float32Array(rows * 2), labels = new Int32Array(rows);
      for (let r = 0; r < rows; r++) { const a = r % 2, b = (r >> 1) % 2; features[2 * r] = a; features[2 * r + 1] = b; labels[r] = a ^ b; }
      return { features, labels, rows, featureSize: 2, classes: 2 };
  } },
  { kind: 'callback', name: 'count-steps', create: (_config, context) => {
      let steps = 0;
      return { name: 'count-steps', onStep: () => void steps++, onEnd: () => context.io.stderr('count-steps: ' + steps + '\\n') };
  } },
];\n`,
    );
    const file = join(dir, 'run.json');
    await writeFile(
      file,
      JSON.stringify({
        plugins: ['./my-plugin.mjs'],
        data: { train: { name: 'xor', rows: 32 } },
        student: { name: 'mlp', hidden: [4] },
        training: { epochs: 2, batchSize: 16 },
        callbacks: ['count-steps'],
        logs: { metrics: false, curves: false },
      }),
    );
    const io = captureIO();
    expect(await runCli(['distill', file], io), io.err).toBe(0);
    expect(io.err).toContain(`plugins[0] is a file: running code from ${join(dir, 'my-plugin.mjs')}`);
    expect(io.err).toContain('count-steps: 4');
    expect(existsSync(join(dir, 'run.run', 'student.safetensors'))).toBe(true);
  });

  gpuTest('runs a config end to end; a killed run resumes to the same weights; the run folder holds logs and curves', async () => {
    const root = await mkdtemp(join(tmpdir(), 'distill-e2e-'));
    const straight = join(root, 'straight');
    const killed = join(root, 'killed');
    const a = await runBin(['distill', quick, '--output', straight]);
    expect(a.code, a.stderr).toBe(0);
    // Kill the second run as soon as a mid-run checkpoint exists (after the teacher trained).
    const b = await runBin(['distill', quick, '--output', killed], async () => {
      if (!existsSync(join(killed, 'checkpoint.safetensors'))) return false;
      return (await stat(join(killed, 'checkpoint.safetensors'))).size > 0;
    });
    expect(b.signal).toBe('SIGKILL');
    expect(existsSync(join(killed, 'student.safetensors'))).toBe(false);
    const resumed = await runBin(['distill', quick, '--output', killed]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming at step \d+\/24/);
    const [wa, wb] = await Promise.all([
      readModelState(join(straight, 'student.safetensors')),
      readModelState(join(killed, 'student.safetensors')),
    ]);
    expect(Object.keys(wb.tensors)).toEqual(Object.keys(wa.tensors));
    for (const name of Object.keys(wa.tensors))
      expect(Array.from(wb.tensors[name]!.data as Float32Array)).toEqual(Array.from(wa.tensors[name]!.data as Float32Array));
    // The log of the interrupted run matches the uninterrupted one step for step (no duplicates).
    const rows = await readMetricsRows(join(killed, 'metrics.jsonl'));
    const straightRows = await readMetricsRows(join(straight, 'metrics.jsonl'));
    expect(rows.filter((r) => r.type === 'step').map((r) => r.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(rows.map((r) => (r.type === 'step' ? r.loss : r.metrics))).toEqual(
      straightRows.map((r) => (r.type === 'step' ? r.loss : r.metrics)),
    );
    expect(rows.filter((r) => r.type === 'evaluation')).toHaveLength(3);
    const csv = (await readFile(join(killed, 'metrics.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toMatch(/^type,step,epoch,loss,ms,terms\.soft,terms\.hard,hyper\.lr,hyper\.temperature/);
    expect(csv[0]).toContain('metrics.accuracy');
    expect(csv).toHaveLength(1 + 24 + 3);
    for (const svg of ['curves-loss.svg', 'curves-evaluation.svg', 'curves-lr.svg'])
      expect(await readFile(join(killed, svg), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // A finished run, rerun: its final metrics again, not null / {}.
    const io = captureIO();
    expect(await runCli(['distill', quick, '--output', killed, '--json'], io)).toBe(0);
    const again = JSON.parse(io.out);
    const summary = JSON.parse(await readFile(join(straight, 'summary.json'), 'utf8'));
    expect(again.summary.steps).toBe(24);
    expect(again.summary.lastLoss).toBe(summary.summary.lastLoss);
    expect(again.summary.metrics).toEqual(summary.summary.metrics);
    expect(again.validation).toEqual(summary.validation);
  });
});
