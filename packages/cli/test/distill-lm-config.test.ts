import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '@distillery/core';
import { parseDistillLmConfig, quickSettings, readDistillLmConfig } from '../src/distill-lm/config.js';
import { splitStories } from '../src/distill-lm/corpus.js';
import { outputDirOf } from '../src/distill-lm/experiment.js';
import { runCli, type CliIO } from '../src/index.js';

const student = { name: 'w32-l2', width: 32, layers: 2, heads: 4, kvHeads: 2 };

function configError(value: unknown, file = 'x.json'): DistilleryError {
  try {
    parseDistillLmConfig(value, file);
  } catch (error) {
    return error as DistilleryError;
  }
  throw new Error('expected an error');
}

describe('distill-lm config', () => {
  it('fills the defaults: all four methods, three seeds, the vendored teacher and corpus', () => {
    const s = parseDistillLmConfig({ students: [student], steps: 10 });
    expect(s.methods).toEqual(['scratch', 'kd', 'kd-topk-cache', 'kd-hidden']);
    expect(s.seeds).toEqual([0, 1, 2]);
    expect(s.teacher).toBeUndefined();
    expect(s.corpus).toMatchObject({ separator: '<|endoftext|>', heldOutFraction: 0.1 });
    expect(s.hidden).toMatchObject({ student: 'norm', teacher: 'norm', loss: 'mse' });
  });

  it('names the file, the field and the value of a bad entry', () => {
    const e = configError({ students: [{ ...student, heads: 3 }], steps: 10 }, 'cfg.json');
    expect(e.code).toBe('E_BAD_CONFIG');
    expect(e.message).toContain('cfg.json');
    expect(e.message).toContain('students[0].heads');
    expect(e.details.file).toBe('cfg.json');
    expect(configError({ students: [student], steps: 10, methods: ['kd', 'distil'] }).message).toMatch(/methods\[1\].*"distil"/);
    expect(configError({ students: [student], steps: 0 }).message).toContain('steps');
    expect(configError({ students: [student, student], steps: 5 }).message).toContain('duplicate student name "w32-l2"');
    expect(configError({ students: [student], steps: 5, kd: { temperature: 2, tau: 1 } }).message).toContain('tau');
    expect(configError({ students: [{ ...student, kvHeads: 3 }], steps: 5 }).message).toContain('students[0].kvHeads');
  });

  it('reads a file: missing and malformed files are typed errors naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distill-lm-config-'));
    await expect(readDistillLmConfig(join(dir, 'none.json'))).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      details: { file: join(dir, 'none.json') },
    });
    await writeFile(join(dir, 'bad.json'), '{"steps": 3,');
    await expect(readDistillLmConfig(join(dir, 'bad.json'))).rejects.toMatchObject({ code: 'E_BAD_CONFIG' });
    await writeFile(join(dir, 'ok.json'), JSON.stringify({ students: [student], steps: 3 }));
    expect((await readDistillLmConfig(join(dir, 'ok.json'))).steps).toBe(3);
  });

  it('--quick keeps one seed and the first student, few steps, a corpus slice, every method', () => {
    const s = quickSettings(parseDistillLmConfig({ students: [student, { ...student, name: 'b' }], steps: 500, seeds: [4, 5, 6] }));
    expect(s.seeds).toEqual([4]);
    expect(s.students.map((x) => x.name)).toEqual(['w32-l2']);
    expect(s.steps).toBeLessThanOrEqual(10);
    expect(s.corpus.trainStories).toBeLessThanOrEqual(100);
    expect(s.methods).toHaveLength(4);
  });
});

describe('splitStories', () => {
  it('drops a cut-off last story and holds the last 10 % out', () => {
    const text = `${Array.from({ length: 20 }, (_, i) => `Story ${i}.`).join('<|endoftext|>\n')}<|endoftext|>\nA story cut off`;
    const split = splitStories(text, { separator: '<|endoftext|>', heldOutFraction: 0.1 });
    expect(split.total).toBe(20);
    expect(split.train).toHaveLength(18);
    expect(split.heldOut).toEqual(['Story 18.', 'Story 19.']);
    const limited = splitStories(text, { separator: '<|endoftext|>', heldOutFraction: 0.1, trainStories: 5, evalStories: 1 });
    expect(limited.train).toEqual(['Story 0.', 'Story 1.', 'Story 2.', 'Story 3.', 'Story 4.']);
    expect(limited.heldOut).toEqual(['Story 18.']);
  });

  it('refuses a corpus without two stories, naming the separator', () => {
    expect(() => splitStories('one story only<|endoftext|>', { separator: '<|endoftext|>', heldOutFraction: 0.1, file: 'c.txt' })).toThrow(
      /c.txt has 1 stories/,
    );
  });
});

describe('distillery distill-lm', () => {
  it('a bad config fails before any GPU work, naming the file, the field and the value', async () => {
    const io: CliIO & { err: string } = {
      err: '',
      cwd: process.cwd(),
      isTTY: false,
      stdout: () => {},
      stderr: (t: string) => void (io.err += t),
    };
    const dir = await mkdtemp(join(tmpdir(), 'distill-lm-bad-'));
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ students: [{ name: 'a', width: 30, layers: 1, heads: 4 }], steps: 2 }));
    expect(await runCli(['distill-lm', path], io)).toBe(2);
    expect(io.err).toContain('E_BAD_CONFIG');
    expect(io.err).toContain(path);
    expect(io.err).toContain('students[0].heads');
    expect(io.err).toContain('width must be a multiple of heads, got 4');
  });
});

describe('outputDirOf', () => {
  it("keeps a --quick run of distill-lm or sweep out of the real run's folder (examples/tinystories/sweep holds committed results)", () => {
    const base = resolve('/repo/examples/tinystories');
    expect(outputDirOf(base, 'sweep')).toBe(join(base, 'sweep'));
    expect(outputDirOf(base, 'sweep', { quick: true })).toBe(join(base, 'sweep-quick'));
    expect(outputDirOf(base, 'sweep/', { quick: true })).toBe(join(base, 'sweep-quick'));
    // An explicit --out is taken as given, quick or not.
    expect(outputDirOf(base, 'sweep', { quick: true, out: '/tmp/q' })).toBe('/tmp/q');
    expect(outputDirOf(base, 'sweep', { out: 'elsewhere' })).toBe(join(base, 'elsewhere'));
  });
});
