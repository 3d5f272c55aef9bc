import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlackBoxTeacher, CompletionRequest } from '@distillery/core';
import { serveOpenAI } from '@distillery/black-box/node';
import { runCli } from '../src/index.js';
import { captureIO } from './capture-io.js';

const echo: BlackBoxTeacher = {
  kind: 'black-box',
  name: 'echo',
  async complete(request: CompletionRequest) {
    return { text: `echo ${request.prompt}`, finishReason: 'stop', usage: { promptTokens: 4, completionTokens: 2 } };
  },
};

describe('distillery collect', () => {
  it('collects from an OpenAI-compatible server with progress, then resumes with nothing to do', async () => {
    const server = await serveOpenAI(echo, { apiKey: 'sk-cli-test-SECRET-123456' });
    try {
      const dir = await mkdtemp(join(tmpdir(), 'distillery-cli-'));
      await writeFile(
        join(dir, 'requests.jsonl'),
        Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: `hello ${i}` })).join('\n'),
      );
      process.env.DISTILLERY_CLI_TEST_KEY = 'sk-cli-test-SECRET-123456';
      await writeFile(
        join(dir, 'collect.json'),
        JSON.stringify({
          teacher: { name: 'openai', baseURL: server.url, model: 'echo', apiKeyEnv: 'DISTILLERY_CLI_TEST_KEY' },
          input: { requests: 'requests.jsonl' },
          output: 'out/echo.jsonl',
          concurrency: 3,
        }),
      );
      const io = captureIO();
      io.cwd = dir;
      expect(await runCli(['collect', 'collect.json'], io)).toBe(0);
      expect(io.out).toMatch(/\[#{24}\] 12\/12 100% \| [\d.]+\/s \| retries 0 \| 12 req 72 tok/);
      expect(io.out).toContain('complete: 12/12 records');
      expect(io.out).not.toContain('SECRET');
      const lines = (await readFile(join(dir, 'out/echo.jsonl'), 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(12);

      const tty = captureIO({ isTTY: true });
      tty.cwd = dir;
      expect(await runCli(['collect', join(dir, 'collect.json'), '--json'], tty)).toBe(0);
      const summary = JSON.parse(tty.out.slice(tty.out.indexOf('\n{') + 1)) as { resumed: number; done: number };
      expect(summary).toMatchObject({ resumed: 12, done: 12 });
      expect(tty.out.startsWith('\r')).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('reports a missing or invalid config with its field path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-cli-'));
    const io = captureIO();
    io.cwd = dir;
    expect(await runCli(['collect', 'nope.json'], io)).toBe(2);
    expect(io.err).toContain('E_NOT_FOUND');
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({
        teacher: { name: 'openai', baseURL: 'http://x/v1' },
        input: { requests: 'r.jsonl' },
        output: 'o.jsonl',
        retry: { retries: -1 },
      }),
    );
    const bad = captureIO();
    bad.cwd = dir;
    expect(await runCli(['collect', 'bad.json'], bad)).toBe(2);
    expect(bad.err).toContain('retry.retries: expected >= 0, got -1');
    const none = captureIO();
    expect(await runCli(['collect'], none)).toBe(2);
    expect(none.err).toContain('expected one config file');
    const help = captureIO();
    expect(await runCli(['collect', '--help'], help)).toBe(0);
    expect(help.out).toContain('Usage: distillery collect <config.json>');
  });
});

// No data.dir / stepByStep.dir: the release copy vendored in @distillery/step-by-step (no ../shared needed).
describe('distillery step-by-step', () => {
  it("replays PaLM's SVAMP outputs, reports teacher accuracy and writes the dataset", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-cli-'));
    await writeFile(join(dir, 'sbs.json'), JSON.stringify({ data: { dataset: 'svamp', limit: 40 }, output: 'out' }));
    const io = captureIO();
    io.cwd = dir;
    expect(await runCli(['step-by-step', 'sbs.json'], io)).toBe(0);
    expect(io.out).toContain('teacher recorded:svamp on svamp (arithmetic): accuracy against gold');
    expect(io.out).toMatch(/ {2}train +\d+\.\d\d% +\(\d+\/40; \d+ parsed/);
    expect(io.out).toMatch(/ {2}test +\d+\.\d\d%/);
    expect(io.out).toMatch(/dataset: \d+ train, 4 validation, \d+ rejected/);
    const report = JSON.parse(await readFile(join(dir, 'out/report.json'), 'utf8')) as { splits: Record<string, { examples: number }> };
    expect(report.splits.train!.examples).toBe(40);
    expect(existsSync(join(dir, 'out/train.jsonl'))).toBe(true);
  });

  it("distillery collect replays CQA's recorded outputs through the step-by-step inputs", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-cli-'));
    const config = { teacher: 'recorded', input: { stepByStep: { dataset: 'cqa', split: 'train', limit: 12 } }, output: 'cqa.jsonl' };
    await writeFile(join(dir, 'c.json'), JSON.stringify(config));
    const io = captureIO();
    io.cwd = dir;
    expect(await runCli(['collect', 'c.json', '--json'], io)).toBe(0);
    expect(JSON.parse(io.out.slice(io.out.indexOf('\n{') + 1))).toMatchObject({ done: 12, complete: true });
    const lines = (await readFile(join(dir, 'cqa.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(12);
    expect(JSON.parse(lines[0]!).completion.text).toContain('So the answer is');
  });
});
