import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import type { CollectItem } from '../src/index.js';
import { collect, exportTrainingData, runCollectConfig, serveOpenAI } from '../src/node.js';
import { FakeTeacher, tempDir } from './helpers.js';
import { EXPORT_FILES } from '../src/export.js';

const lines = async (path: string) =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('exporting collected records as training data', () => {
  it('writes {prompt, completion} and {messages} rows in input order, leaves out failures, and a dataset card', async () => {
    const dir = await tempDir();
    // c fails: the export follows the inputs, without it.
    const teacher = new FakeTeacher('fake-model', 0, (request) => (request.prompt === 'c?' ? new Error('boom') : undefined));
    const items: CollectItem[] = [
      { id: 'b', request: { prompt: 'b?', temperature: 0.7, maxTokens: 16 } },
      {
        id: 'a',
        request: {
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'a?' },
          ],
          temperature: 0.7,
          maxTokens: 16,
        },
      },
      { id: 'c', request: { prompt: 'c?', temperature: 0.7, maxTokens: 16 } },
    ];
    const output = join(dir, 'collect', 'records.jsonl');
    await collect({ teacher, items, output, retry: { retries: 0 } });
    const data = join(dir, 'data');
    const summary = await exportTrainingData({
      items,
      records: output,
      dir: data,
      teacher: teacher.name,
      date: new Date('2026-12-07T12:00:00Z'),
    });
    expect(summary).toMatchObject({ rows: 2, missing: 1, stale: 0 });
    expect((await readdir(data)).sort()).toEqual([EXPORT_FILES.card, EXPORT_FILES.messages, EXPORT_FILES.promptCompletion].sort());
    const pc = await lines(join(data, EXPORT_FILES.promptCompletion));
    expect(pc).toEqual([
      { id: 'b', prompt: 'b?', completion: 'answer:b?' },
      {
        id: 'a',
        prompt: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'a?' },
        ],
        completion: [{ role: 'assistant', content: expect.any(String) }],
      },
    ]);
    const messages = await lines(join(data, EXPORT_FILES.messages));
    expect(messages[0]).toEqual({
      id: 'b',
      messages: [
        { role: 'user', content: 'b?' },
        { role: 'assistant', content: 'answer:b?' },
      ],
    });
    expect((messages[1]!.messages as unknown[]).length).toBe(3);
    const card = await readFile(join(data, EXPORT_FILES.card), 'utf8');
    expect(card).toContain('`fake-model`');
    expect(card).toContain('temperature = 0.7, maxTokens = 16');
    expect(card).toContain('2026-12-07');
    expect(card).toContain('**rows**: 2 of 3 inputs');
    expect(card).toMatch(/\*\*missing\*\*: 1 .*: c/);
    // Never over a previous export unless asked, never into a folder holding anything else.
    const again = await exportTrainingData({ items, records: output, dir: data, teacher: teacher.name }).catch((e: unknown) => e);
    expect(isDistilleryError(again, 'E_BAD_VALUE')).toBe(true);
    await expect(exportTrainingData({ items, records: output, dir: data, teacher: teacher.name, overwrite: true })).resolves.toMatchObject({
      rows: 2,
    });
    const mixed = await exportTrainingData({ items, records: output, dir: join(dir, 'collect'), teacher: teacher.name }).catch(
      (e: unknown) => e,
    );
    expect((mixed as Error).message).toContain('records.jsonl');
  });

  it('collect configs export beside, not inside, the collect output', async () => {
    const fake = new FakeTeacher('fake-server');
    const server = await serveOpenAI(fake);
    try {
      const dir = await tempDir();
      await writeFile(join(dir, 'requests.jsonl'), ['{"id":"z","prompt":"one"}', '{"id":"y","prompt":"two"}'].join('\n'));
      const config = {
        teacher: { name: 'openai', baseURL: server.url, model: 'fake', apiKeyEnv: 'UNSET_KEY_FOR_TEST' },
        input: { requests: 'requests.jsonl' },
        output: 'out/c.jsonl',
        export: { dir: 'train-data' },
      };
      const run = await runCollectConfig(config, { baseDir: dir });
      expect(run.export).toMatchObject({ rows: 2, missing: 0 });
      expect((await lines(join(dir, 'train-data', EXPORT_FILES.promptCompletion))).map((r) => r.id)).toEqual(['z', 'y']);
      expect(await readdir(join(dir, 'out'))).toContain('teacher-cache');
      // A rerun refreshes its own export.
      await expect(runCollectConfig(config, { baseDir: dir })).resolves.toMatchObject({ export: { rows: 2 } });
    } finally {
      await server.close();
    }
  });
});
