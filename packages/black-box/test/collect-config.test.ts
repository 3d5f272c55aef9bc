import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import type { CollectedRecord } from '../src/index.js';
import { readConfigFile, readJsonl, runCollectConfig, serveOpenAI } from '../src/node.js';
import { FakeTeacher, tempDir } from './helpers.js';

async function jsonl<T>(path: string): Promise<T[]> {
  return (await readJsonl<T>(path)).records;
}

describe('collect config errors', () => {
  it('names the field of every bad value, and needs a few-shot builder for examples and release inputs', async () => {
    const dir = await tempDir();
    const bad = await runCollectConfig({
      teacher: { name: 'openai', baseURL: 'localhost', model: 3 },
      input: {},
      output: 'x',
      concurrency: 0,
    }).catch((e: unknown) => e);
    expect(isDistilleryError(bad, 'E_BAD_CONFIG')).toBe(true);
    const message = (bad as Error).message;
    expect(message).toContain('input.requests: expected exactly one of requests, examples, stepByStep');
    expect(message).toContain('concurrency: expected >= 1, got 0');
    await writeFile(join(dir, 'r.jsonl'), '');
    const badTeacher = await runCollectConfig({
      teacher: { name: 'openai', baseURL: 'localhost', model: 3 },
      input: { requests: join(dir, 'r.jsonl') },
      output: join(dir, 'o.jsonl'),
    }).catch((e: unknown) => e);
    expect((badTeacher as Error).message).toContain('teacher.baseURL: expected an http(s) URL, got "localhost"');
    expect((badTeacher as Error).message).toContain('teacher.model: expected string, got 3');
    const recordedWithoutRelease = await runCollectConfig({
      teacher: 'recorded',
      input: { requests: join(dir, 'r.jsonl') },
      output: join(dir, 'o.jsonl'),
    }).catch((e: unknown) => e);
    expect((recordedWithoutRelease as Error).message).toContain('teacher: "recorded"');
    // Few-shot prompts are @distillery/step-by-step's: without hooks.fewShot the config says where to get them.
    await writeFile(join(dir, 'e.jsonl'), '{"input":"2 plus 2"}\n');
    const noBuilder = await runCollectConfig({
      teacher: { name: 'openai', baseURL: 'http://127.0.0.1:9/v1', model: 'm' },
      input: { examples: join(dir, 'e.jsonl'), preset: 'arithmetic' },
      output: join(dir, 'o.jsonl'),
    }).catch((e: unknown) => e);
    expect(noBuilder).toMatchObject({ code: 'E_BAD_CONFIG', details: { field: 'input.examples' } });
    expect((noBuilder as Error).message).toContain('@distillery/step-by-step');
  });
});

describe('collect config with a live teacher', () => {
  it('runs requests from a JSONL file against an OpenAI-compatible server, with per-line sampling and a cache', async () => {
    const fake = new FakeTeacher('fake-server');
    const server = await serveOpenAI(fake);
    try {
      const dir = await tempDir();
      await writeFile(
        join(dir, 'requests.jsonl'),
        [
          '{"id":"a","prompt":"one"}',
          '{"id":"b","prompt":"two","temperature":0.5}',
          '{"id":3,"messages":[{"role":"user","content":"three"}]}',
        ].join('\n'),
      );
      const config = {
        teacher: { name: 'openai', baseURL: server.url, model: 'fake', apiKeyEnv: 'UNSET_KEY_FOR_TEST' },
        input: { requests: 'requests.jsonl' },
        output: 'out/c.jsonl',
        sampling: { maxTokens: 5 },
      };
      const run = await runCollectConfig(config, { baseDir: dir });
      expect(run).toMatchObject({ teacher: 'fake', summary: { done: 3, complete: true } });
      const records = await jsonl<CollectedRecord>(join(dir, 'out/c.jsonl'));
      expect(Object.fromEntries(records.map((r) => [r.id, r.completion.text]))).toEqual({
        a: 'answer:one',
        b: 'answer:two',
        '3': 'answer:three',
      });
      // Different output, same requests: answered from the default cache beside the output.
      const calls = fake.calls;
      await runCollectConfig({ ...config, output: 'out/d.jsonl' }, { baseDir: dir });
      expect(fake.calls).toBe(calls);
      const badLine = await writeFile(join(dir, 'bad.jsonl'), '{"id":"a","prompt":"x","temperature":"hot"}').then(() =>
        runCollectConfig({ ...config, input: { requests: 'bad.jsonl' } }, { baseDir: dir }).catch((e: unknown) => e),
      );
      expect((badLine as Error).message).toContain('bad.jsonl:1.temperature: expected number, got "hot"');
    } finally {
      await server.close();
    }
  });

  it('reports a config that is not JSON by position, without quoting it (it may hold a key)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'c.json'), '{"teacher": {"apiKey": sk-SECRET-abcdef}}');
    const error = await readConfigFile(join(dir, 'c.json')).catch((e: unknown) => e);
    expect(isDistilleryError(error, 'E_BAD_CONFIG')).toBe(true);
    expect((error as Error).message).not.toContain('SECRET');
    expect(isDistilleryError(await readConfigFile(join(dir, 'missing.json')).catch((e: unknown) => e), 'E_NOT_FOUND')).toBe(true);
  });
});
