import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlackBoxTeacher, CompletionRequest } from '@distillery/core';
import { serveOpenAI, shardOf, type BatchInputLine, type MergeReport } from '@distillery/black-box/node';
import { writeCachePart } from '@distillery/white-box/node';
import { runCli } from '../src/index.js';
import { captureIO } from './capture-io.js';

const echo: BlackBoxTeacher = {
  kind: 'black-box',
  name: 'echo',
  async complete(request: CompletionRequest) {
    return { text: `echo ${request.prompt}`, finishReason: 'stop', usage: { promptTokens: 4, completionTokens: 2 } };
  },
};

const N = 40;

async function setup(url: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'distillery-scale-'));
  await writeFile(
    join(dir, 'requests.jsonl'),
    Array.from({ length: N }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: `hello ${i}` })).join('\n'),
  );
  await writeFile(
    join(dir, 'collect.json'),
    JSON.stringify({
      teacher: { name: 'openai', baseURL: url, model: 'echo' },
      input: { requests: 'requests.jsonl' },
      output: 'out/records.jsonl',
      cache: false,
    }),
  );
  return dir;
}

describe('distillery collect --shard and distillery merge', () => {
  it('collects shards 0..3 of 4, merges them; a missing shard and a duplicated one are reported', async () => {
    const server = await serveOpenAI(echo);
    try {
      const dir = await setup(server.url);
      // Four "machines": one copy of the config folder each.
      for (let s = 0; s < 4; s++) {
        await cp(join(dir, 'collect.json'), join(dir, `m${s}`, 'collect.json'));
        await cp(join(dir, 'requests.jsonl'), join(dir, `m${s}`, 'requests.jsonl'));
        const io = captureIO({ cwd: dir });
        expect(await runCli(['collect', join(dir, `m${s}`, 'collect.json'), '--shard', `${s}/4`], io)).toBe(0);
      }
      const shardIds = async (s: number) =>
        (await readFile(join(dir, `m${s}`, 'out/records.jsonl'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: string }).id);
      const sizes: number[] = [];
      for (let s = 0; s < 4; s++) {
        const ids = await shardIds(s);
        sizes.push(ids.length);
        for (const id of ids) expect(shardOf(id, 4)).toBe(s);
      }
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(N);
      expect(Math.min(...sizes)).toBeGreaterThan(0);

      const good = captureIO({ cwd: dir });
      expect(
        await runCli(
          ['merge', 'm0/out', 'm1/out', 'm2/out', 'm3/out', '--out', 'merged', '--config', 'collect.json', '--shards', '4'],
          good,
        ),
      ).toBe(0);
      expect(good.out).toContain(`complete: ${N} records`);
      const merged = (await readFile(join(dir, 'merged/records.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id);
      // Every id once, in the input's order.
      expect(merged).toEqual(Array.from({ length: N }, (_, i) => `r${i}`));

      const bad = captureIO({ cwd: dir });
      expect(
        await runCli(
          [
            'merge',
            'm0/out',
            'm1/out',
            'm3/out',
            'm3/out/records.jsonl',
            '--out',
            'merged-bad',
            '--config',
            'collect.json',
            '--shards',
            '4',
          ],
          bad,
        ),
      ).toBe(1);
      const report = JSON.parse(await readFile(join(dir, 'merged-bad/merge-report.json'), 'utf8')) as MergeReport;
      expect(report.complete).toBe(false);
      expect(report.missing).toMatchObject({ count: sizes[2], shardsMissingEntirely: [2], byShard: { '2/4': sizes[2] } });
      expect(report.duplicated.count).toBe(sizes[3]);
      expect(report.inputs[3]!.duplicates).toBe(sizes[3]);
      expect(report.records).toBe(N - sizes[2]!);
      expect(bad.out).toContain('shards with no output at all: 2/4');
      // Refuses to overwrite a merged output.
      const refused = captureIO({ cwd: dir });
      expect(await runCli(['merge', 'm0/out', '--out', 'merged'], refused)).toBe(2);
      expect(refused.err).toContain('exists');
    } finally {
      await server.close();
    }
  });

  it('--export-batch then --import-batch fills the same records.jsonl; a live collect then has nothing to do', async () => {
    const server = await serveOpenAI(echo);
    try {
      const dir = await setup(server.url);
      const io = captureIO({ cwd: dir });
      expect(await runCli(['collect', 'collect.json', '--export-batch', 'batch', '--max-requests', '15'], io)).toBe(0);
      expect(io.out).toContain(`exported ${N} requests (0 already collected) into 3 batch files`);
      // Run the batch files against the server (the Batch API or vLLM's run_batch would).
      const outputs: string[] = [];
      for (const f of ['batch-00001.jsonl', 'batch-00002.jsonl', 'batch-00003.jsonl']) {
        const lines = (await readFile(join(dir, 'batch', f), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as BatchInputLine);
        const out: string[] = [];
        for (const line of lines) {
          const res = await fetch(`${server.url}${line.url.replace(/^\/v1/, '')}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(line.body),
          });
          out.push(
            JSON.stringify({
              id: `req-${line.custom_id}`,
              custom_id: line.custom_id,
              response: { status_code: res.status, body: await res.json() },
              error: null,
            }),
          );
        }
        // The last output is missing its final 2 lines (a partial result).
        const kept = f.endsWith('3.jsonl') ? out.slice(0, -2) : out;
        await writeFile(join(dir, `out-${f}`), kept.map((l) => `${l}\n`).join(''));
        outputs.push(`out-${f}`);
      }
      const imported = captureIO({ cwd: dir });
      expect(await runCli(['collect', 'collect.json', ...outputs.flatMap((o) => ['--import-batch', o])], imported)).toBe(1);
      expect(imported.out).toContain(`imported ${N - 2} records`);
      expect(imported.out).toContain('2 still missing');
      const again = captureIO({ cwd: dir });
      expect(await runCli(['collect', 'collect.json', '--export-batch', 'batch2'], again)).toBe(0);
      expect(again.out).toContain(`exported 2 requests (${N - 2} already collected)`);
      const live = captureIO({ cwd: dir });
      expect(await runCli(['collect', 'collect.json'], live)).toBe(0);
      expect(live.out).toContain(`complete: ${N}/${N} records`);
      expect(server.requests).toBe(N + 2); // N by the batch runner (2 answers lost), then the 2 missing live
    } finally {
      await server.close();
    }
  });

  it('merge --cache: parts into one cache, or the missing rows listed and nothing written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-cache-merge-'));
    const header = { kind: 'dense' as const, rows: 5, vocab: 3, teacher: 't', rowsPerShard: 2 };
    const rows = (shard: number) => {
      const n = Math.min(2, 5 - shard * 2);
      return { kind: 'dense' as const, rows: n, vocab: 3, logits: Float32Array.from({ length: n * 3 }, (_, i) => shard + i / 4) };
    };
    await writeCachePart({
      dir: join(dir, 'a'),
      header,
      shards: [
        { shard: 0, rows: rows(0) },
        { shard: 2, rows: rows(2) },
      ],
    });
    await writeCachePart({ dir: join(dir, 'b'), header, shards: [{ shard: 1, rows: rows(1) }] });
    const partial = captureIO({ cwd: dir });
    expect(await runCli(['merge', '--cache', 'a', '--out', 'cache'], partial)).toBe(1);
    expect(partial.out).toContain('1 of 3 shards missing (rows 2-3); nothing written');
    const full = captureIO({ cwd: dir });
    expect(await runCli(['merge', '--cache', 'a', 'b', '--out', 'cache'], full)).toBe(0);
    expect(full.out).toContain('merged 3 shards (5 rows)');
    const index = JSON.parse(await readFile(join(dir, 'cache/index.json'), 'utf8')) as { format: string; shards: unknown[] };
    expect(index.format).toBe('distillery-teacher-cache/1');
    expect(index.shards).toHaveLength(3);
  });
});
