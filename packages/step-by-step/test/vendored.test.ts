import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStepByStepWithOutputs, runStepByStep, vendoredDataDir } from '../src/node.js';
import { dataDir, haveData, packageRoot, tempDir } from './helpers.js';

const vendored = vendoredDataDir();

describe('the vendored release (data/)', () => {
  it('holds SVAMP whole, CQA test whole and the first 1,000 CQA train rows, each aligned with its outputs', async () => {
    expect(vendored).toBe(join(packageRoot, 'data'));
    const counts: Record<string, number> = {};
    for (const [dataset, split] of [
      ['svamp', 'train'],
      ['svamp', 'test'],
      ['cqa', 'train'],
      ['cqa', 'test'],
    ] as const) {
      const { examples, outputs } = await loadStepByStepWithOutputs(vendored, dataset, split);
      expect(outputs).toHaveLength(examples.length);
      counts[`${dataset} ${split}`] = examples.length;
    }
    expect(counts).toEqual({ 'svamp train': 800, 'svamp test': 200, 'cqa train': 1000, 'cqa test': 1221 });
  });

  it('matches the checksums in data/README.md, and ships with its licences', async () => {
    const readme = await readFile(join(vendored, 'README.md'), 'utf8');
    const sums = [...readme.matchAll(/^([0-9a-f]{64}) {2}(\S+)$/gm)].map((m) => ({ sha256: m[1]!, file: m[2]! }));
    expect(sums).toHaveLength(10);
    for (const { sha256, file } of sums)
      expect(
        createHash('sha256')
          .update(await readFile(join(vendored, file)))
          .digest('hex'),
        file,
      ).toBe(sha256);
    const pkg = JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('data');
    for (const licence of ['LICENSE', 'LICENSE-SVAMP', 'LICENSE-CoS-E'])
      expect((await readFile(join(vendored, licence), 'utf8')).length).toBeGreaterThan(500);
  });

  it.skipIf(!haveData)('is byte for byte the release (CQA train: its first 1,000 lines)', async () => {
    for (const file of [
      'svamp/svamp_train.json',
      'svamp/svamp_test.json',
      'svamp/llm/train_CoT_0.json',
      'svamp/llm/train_CoT_1.json',
      'svamp/llm/test_CoT_0.json',
      'cqa/cqa_test.json',
      'cqa/llm/test_CoT_0.json',
      'cqa/llm/test_CoT_1.json',
      'cqa/llm/train_CoT_0.json',
    ])
      expect((await readFile(join(vendored, file))).equals(await readFile(join(dataDir, file))), file).toBe(true);
    const release = (await readFile(join(dataDir, 'cqa/cqa_train.json'), 'utf8')).split('\n');
    expect(await readFile(join(vendored, 'cqa/cqa_train.json'), 'utf8')).toBe(`${release.slice(0, 1000).join('\n')}\n`);
  });

  it('is what a config without data.dir reads', async () => {
    const out = await tempDir();
    const report = await runStepByStep({ data: { dataset: 'cqa', limit: 30 }, output: out });
    expect(report).toMatchObject({ teacher: 'recorded:cqa', preset: 'multiple-choice', complete: true });
    expect(report.splits.train!.examples).toBe(30);
    const withDir = await runStepByStep({ data: { dir: vendored, dataset: 'cqa', limit: 30 }, output: await tempDir() });
    for (const split of ['train', 'test']) expect(withDir.splits[split]!.accuracy).toEqual(report.splits[split]!.accuracy);
    expect(withDir.build).toEqual(report.build);
  });
});
