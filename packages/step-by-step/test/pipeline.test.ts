import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildStepByStepDataset,
  multipleChoice,
  parseCompletions,
  stepByStepItems,
  taskPairs,
  teacherAccuracy,
  arithmetic,
  buildFewShotPrompt,
  type StepByStepRecord,
} from '../src/index.js';
import { loadStepByStepWithOutputs, runStepByStep, stepByStepInputs, type StepByStepReport } from '../src/node.js';
import type { CollectedRecord } from '@distillery/black-box';
import { readJsonl, runCollectConfig, serveOpenAI } from '@distillery/black-box/node';
import { dataDir, FakeTeacher, haveData, tempDir } from './helpers.js';

const svampExemplars = [
  {
    input: 'Tom has 3 apples and buys 4 more.\nHow many apples does he have?',
    rationale: 'Tom starts with 3 apples. He buys 4 more, so 3 + 4 = 7.',
    label: '(3 + 4)',
  },
  {
    input: 'A box holds 12 eggs. 5 break.\nHow many are left?',
    rationale: 'There are 12 eggs and 5 break, so 12 - 5 = 7 are left.',
    label: '(12 - 5)',
  },
];

async function jsonl<T>(path: string): Promise<T[]> {
  return (await readJsonl<T>(path)).records;
}

describe('few-shot prompts and the dataset builder', () => {
  it('formats exemplars and the query in the paper’s CoT layout', () => {
    const prompt = buildFewShotPrompt({ preset: arithmetic, exemplars: svampExemplars, instruction: 'Solve.' }, { input: 'Q text' });
    expect(prompt).toBe(
      'Solve.\n\nQ: Tom has 3 apples and buys 4 more.\nHow many apples does he have?\nA: Tom starts with 3 apples. He buys 4 more, so 3 + 4 = 7. The answer is (3 + 4).\n\n' +
        'Q: A box holds 12 eggs. 5 break.\nHow many are left?\nA: There are 12 eggs and 5 break, so 12 - 5 = 7 are left. The answer is (12 - 5).\n\nQ: Q text\nA:',
    );
    const mc = buildFewShotPrompt(
      {
        preset: multipleChoice,
        exemplars: [{ input: 'Where do fish live?', choices: ['sky', 'water'], rationale: 'Fish need water.', label: 'water' }],
      },
      { input: 'Where do birds fly?', choices: ['sky', 'sea'] },
    );
    expect(mc).toBe(
      'Q: Where do fish live?\nAnswer Choices:\n(a) sky\n(b) water\nA: Fish need water. So the answer is (b) water.\n\nQ: Where do birds fly?\nAnswer Choices:\n(a) sky\n(b) sea\nA:',
    );
    const [item] = stepByStepItems([{ id: 'x', input: 'Q text' }], { preset: arithmetic, exemplars: [], sampling: { maxTokens: 64 } });
    expect(item!.request).toEqual({ temperature: 0, maxTokens: 64, stop: ['\n\nQ:', '\nQ:'], prompt: 'Q: Q text\nA:' });
  });

  it('splits train/validation by seed over all examples, keeps rejects with reasons, filters disagreements', () => {
    const examples = Array.from({ length: 50 }, (_, i) => ({ id: `e${i}`, input: `question ${i}`, label: `(${i} + 1)` }));
    const texts = new Map(
      examples.map((e, i) => [e.id, i % 10 === 0 ? 'no answer here' : `Because ${i}. The answer is (${i} + ${i % 7 === 0 ? 2 : 1}).`]),
    );
    texts.delete('e5');
    const parsed = parseCompletions(arithmetic, examples, texts);
    const a = buildStepByStepDataset(parsed, { seed: 1 });
    const b = buildStepByStepDataset(parsed, { seed: 1 });
    const c = buildStepByStepDataset(parsed, { seed: 2 });
    expect(a).toEqual(b);
    expect(a.validation.map((r) => r.id)).not.toEqual(c.validation.map((r) => r.id));
    expect(a.stats).toMatchObject({ examples: 50, rejected: 6, byReason: { 'no-answer-phrase': 5, missing: 1 } });
    expect(a.train.length + a.validation.length).toBe(44);
    // Teacher labels in train, gold in validation.
    const wrong = a.train.find((r) => r.teacher_correct === false)!;
    expect(wrong.label).toBe(wrong.teacher_label);
    expect(a.validation.every((r) => r.label === r.gold_label)).toBe(true);
    const filtered = buildStepByStepDataset(parsed, { seed: 1, dropDisagreeing: true, labels: 'gold' });
    expect(filtered.stats.byReason['disagrees-with-gold']).toBe(7); // i = 7, 14, …, 49
    expect(filtered.train.every((r) => r.teacher_correct === true && r.label === r.gold_label)).toBe(true);
    const row = a.train[0]!;
    expect(row.predict_input).toBe(`predict: ${row.input}`);
    expect(row.explain_input).toBe(`explain: ${row.input}`);
    expect(taskPairs(row)).toEqual([
      { task: 'predict', source: row.predict_input, target: row.label },
      { task: 'explain', source: row.explain_input, target: row.rationale },
    ]);
  });
});

describe.skipIf(!haveData)('replay pipeline on PaLM’s recorded outputs', () => {
  it('runs step-by-step end to end on SVAMP (CI-sized), reports teacher accuracy, writes HF-loadable JSONL, and resumes', async () => {
    const out = await tempDir();
    const config = { data: { dir: dataDir, dataset: 'svamp', limit: 120 }, exemplars: svampExemplars, build: { seed: 0 }, output: out };
    const progress: string[] = [];
    const report = await runStepByStep(config, { onProgress: (split, p) => progress.push(`${split} ${p.done}/${p.total}`) });
    expect(report).toMatchObject({
      dataset: 'svamp',
      preset: 'arithmetic',
      teacher: 'recorded:svamp',
      complete: true,
      training: 'not-configured',
    });
    expect(progress).toContain('train 120/120');
    expect(progress).toContain('test 120/120');
    // The accuracy the pipeline reports equals the parser applied directly to the aligned outputs.
    for (const split of ['train', 'test'] as const) {
      const { examples, outputs } = await loadStepByStepWithOutputs(dataDir, 'svamp', split);
      const direct = teacherAccuracy(
        parseCompletions(arithmetic, examples.slice(0, 120), new Map(examples.slice(0, 120).map((e, i) => [e.id, outputs[i]!]))),
      );
      expect(report.splits[split]!.accuracy).toEqual(direct);
      expect(report.splits[split]!.accuracy.accuracy).toBeGreaterThan(0.6);
    }
    const train = await jsonl<StepByStepRecord>(join(out, 'train.jsonl'));
    const validation = await jsonl<StepByStepRecord>(join(out, 'validation.jsonl'));
    const rejected = await jsonl<{ id: string; reason: string; text: string }>(join(out, 'rejected.jsonl'));
    const test = await jsonl<StepByStepRecord>(join(out, 'test.jsonl'));
    expect(train.length + validation.length + rejected.length).toBe(120);
    expect(validation.length).toBe(12);
    expect(test).toHaveLength(120);
    expect(rejected.every((r) => r.reason && r.text)).toBe(true);
    // Same columns, same JSON types on every row: what `datasets.load_dataset("json", ...)` needs.
    const columns = [
      'id',
      'input',
      'predict_input',
      'explain_input',
      'label',
      'rationale',
      'teacher_label',
      'gold_label',
      'teacher_correct',
    ];
    for (const row of [...train, ...validation, ...test]) {
      expect(Object.keys(row)).toEqual(columns);
      for (const key of ['id', 'input', 'predict_input', 'explain_input', 'label', 'rationale'] as const)
        expect(typeof row[key]).toBe('string');
    }
    // The first SVAMP row is the README's example.
    const first = [...train, ...validation].find((r) => r.id === 'svamp-train-0')!;
    expect(first).toMatchObject({
      rationale: 'Luke scored 84 points after 2 rounds. So he scored 84 points in 2 rounds. 84 / 2 = 42.',
      teacher_label: '(84 / 2)',
      gold_label: '( 84.0 / 2.0 )',
      teacher_correct: true,
    });
    const saved = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as StepByStepReport;
    expect(saved.splits.train!.accuracy).toEqual(report.splits.train!.accuracy);

    // Rerun: every record is already collected; the outputs are rebuilt identically.
    const again = await runStepByStep(config);
    expect(again.splits.train!.collect).toMatchObject({ resumed: 120, done: 120 });
    expect(await jsonl<StepByStepRecord>(join(out, 'train.jsonl'))).toEqual(train);
  });

  it('collect config: replays CQA through `collect` with the step-by-step inputs', async () => {
    const dir = await tempDir();
    const config = {
      teacher: 'recorded',
      input: { stepByStep: { dir: dataDir, dataset: 'cqa', split: 'test', limit: 25 } },
      output: join(dir, 'cqa.jsonl'),
    };
    const run = await runCollectConfig(config, { fewShot: stepByStepInputs });
    expect(run.summary).toMatchObject({ done: 25, complete: true });
    expect((await runCollectConfig(config, { fewShot: stepByStepInputs })).summary).toMatchObject({ resumed: 25, done: 25 });
    const records = await jsonl<CollectedRecord>(join(dir, 'cqa.jsonl'));
    const { examples, outputs } = await loadStepByStepWithOutputs(dataDir, 'cqa', 'test');
    expect(records).toHaveLength(25);
    records.forEach((r) => expect(r.completion.text).toBe(outputs[examples.findIndex((e) => e.id === r.id)]));
  });
});

describe('step-by-step with a live teacher', () => {
  it('requires exemplars for a live step-by-step teacher and a preset for custom data', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'train.jsonl'), '{"input":"2 plus 2","label":"(2 + 2)"}\n');
    const noExemplars = await runStepByStep({
      data: { train: join(dir, 'train.jsonl') },
      preset: 'arithmetic',
      teacher: { name: 'openai', baseURL: 'http://127.0.0.1:9/v1', model: 'm' },
      output: dir,
    }).catch((e: unknown) => e);
    expect((noExemplars as Error).message).toContain('exemplars');
    const noPreset = await runStepByStep({ data: { train: join(dir, 'train.jsonl') }, teacher: 'recorded', output: dir }).catch(
      (e: unknown) => e,
    );
    expect((noPreset as Error).message).toContain('preset');
    const both = await runStepByStep({ data: { dir: 'x', train: 'y' }, output: dir }).catch((e: unknown) => e);
    expect((both as Error).message).toContain('data.dataset');
  });

  it('runs step-by-step on your own JSONL with a live teacher', async () => {
    const fake = new FakeTeacher('fake', (request) => ({
      text: ` I add the numbers. The answer is (${/Q: (\d+) plus (\d+)\nA:$/.exec(request.prompt!)!.slice(1, 3).join(' + ')}).\n\nQ: more`,
    }));
    const server = await serveOpenAI(fake);
    try {
      const dir = await tempDir();
      await writeFile(
        join(dir, 'train.jsonl'),
        Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `t${i}`, input: `${i} plus ${i + 1}`, label: `(${i} + ${i + 1})` })).join(
          '\n',
        ),
      );
      await writeFile(join(dir, 'test.jsonl'), JSON.stringify({ input: '7 plus 7', label: '14' }));
      const config = {
        data: { train: 'train.jsonl', test: 'test.jsonl' },
        preset: 'arithmetic',
        exemplars: svampExemplars,
        teacher: { name: 'openai', baseURL: server.url, model: 'fake' },
        output: 'out',
        build: { validationFraction: 0.2 },
      };
      // A train section is validated with field paths, and needs a device to run.
      const unknown = await runStepByStep({ ...config, train: { lambda: 1 } }, { baseDir: dir }).catch((e: unknown) => e);
      expect((unknown as Error).message).toMatch(/train: .*lambda/);
      const noDevice = await runStepByStep({ ...config, train: { rationaleWeight: 1 } }, { baseDir: dir }).catch((e: unknown) => e);
      expect(noDevice).toMatchObject({ code: 'E_BAD_CONFIG', details: { field: 'train' } });
      const report = await runStepByStep(config, { baseDir: dir });
      expect(report.splits.train!.accuracy).toMatchObject({ accuracy: 1, parsed: 10 });
      expect(report.splits.test!.accuracy).toMatchObject({ accuracy: 1 });
      expect(report.build).toMatchObject({ train: 8, validation: 2, rejected: 0 });
      expect(report.training).toBe('not-configured');
      const test = await jsonl<StepByStepRecord>(join(dir, 'out/test.jsonl'));
      expect(test[0]).toMatchObject({ id: 'test-0', label: '14', teacher_label: '(7 + 7)', rationale: 'I add the numbers.' });
    } finally {
      await server.close();
    }
  });
});
