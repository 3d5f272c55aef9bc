/**
 * Hostile input to the libraries, table-driven: every case must throw a DistilleryError with the
 * given code whose `details.field` (or message) names the field, and — where the call touches
 * files — leave the folder exactly as it was. No GPU needed.
 */
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BudgetTracker, checkCompletionRequest, OpenAITeacher, parseJsonlText } from '@distillery/black-box';
import { collect, FileResponseCache, readJsonl, runCollectConfig } from '@distillery/black-box/node';
import { runStepByStep } from '@distillery/step-by-step/node';
import {
  constant,
  cosine,
  decodeSafetensors,
  encodeSafetensors,
  isDistilleryError,
  linear,
  parseConfig,
  PluginRegistry,
  requireInteger,
  requireNonNegative,
  requirePositive,
  warmup,
  type BlackBoxTeacher,
} from '@distillery/core';
import { FileCheckpointStore, readUserFile, writeFileAtomic } from '@distillery/core/node';
import {
  BUSBRIDGE_SUPERVISED,
  fitSupervised,
  parseQuantity,
  planDistillation,
  predictSupervisedLoss,
  readSupervisedRuns,
  supervisedComputeOptimal,
} from '@distillery/scaling-laws';
import { TeacherCacheReader, TeacherCacheWriter } from '@distillery/white-box/node';

interface LibCase {
  name: string;
  /** Runs in a fresh folder holding `out.jsonl` (a sentinel) and `adir/`. */
  run: (dir: string) => unknown;
  code: string;
  field: string;
}

const echo: BlackBoxTeacher = { kind: 'black-box', name: 'echo', complete: async (r) => ({ text: String(r.prompt) }) };
const item = (id: string) => ({ id, request: { prompt: id } });
const KEY = 'sk-lib-cases-3Fh8Jk2Lq9Zx';

const CASES: LibCase[] = [
  // core: validation helpers
  { name: 'requirePositive(0)', run: () => requirePositive('temperature', 0), code: 'E_BAD_VALUE', field: 'temperature' },
  { name: 'requirePositive(NaN)', run: () => requirePositive('lr', Number.NaN), code: 'E_BAD_VALUE', field: 'lr' },
  { name: 'requireNonNegative(-1)', run: () => requireNonNegative('softWeight', -1), code: 'E_BAD_VALUE', field: 'softWeight' },
  { name: 'requireInteger(1.5)', run: () => requireInteger('batchSize', 1.5, 1), code: 'E_BAD_VALUE', field: 'batchSize' },
  { name: 'requireInteger below min', run: () => requireInteger('epochs', 0, 1), code: 'E_BAD_VALUE', field: 'epochs' },
  // core: configs and secrets
  {
    name: 'parseConfig: wrong type',
    run: () => parseConfig(z.object({ lr: z.number() }), { lr: 'fast' }, 'optimizer'),
    code: 'E_BAD_CONFIG',
    field: 'optimizer.lr',
  },
  {
    name: 'parseConfig: unknown key',
    run: () => parseConfig(z.object({ lr: z.number() }).strict(), { lr: 1, lrr: 2 }),
    code: 'E_BAD_CONFIG',
    field: 'lrr',
  },
  {
    name: 'parseConfig: union names its alternatives',
    run: () => parseConfig(z.object({ cache: z.union([z.literal(false), z.object({ dir: z.string() })]) }), { cache: 'yes' }),
    code: 'E_BAD_CONFIG',
    field: 'object',
  },
  {
    name: 'parseConfig: a secret is not echoed',
    run: () => parseConfig(z.object({ apiKey: z.number() }), { apiKey: KEY }, 'teacher'),
    code: 'E_BAD_CONFIG',
    field: 'teacher.apiKey',
  },
  {
    name: 'parseConfig: a credential URL is not echoed',
    run: () => parseConfig(z.object({ baseURL: z.url() }), { baseURL: `host/v1?api-key=${KEY}` }, 'teacher'),
    code: 'E_BAD_CONFIG',
    field: 'teacher.baseURL',
  },
  // core: registry and schedulers
  {
    name: 'registry: unknown plugin',
    run: () => new PluginRegistry().create('teacher', 'nobody'),
    code: 'E_UNKNOWN_PLUGIN',
    field: 'nobody',
  },
  {
    name: 'registry: spec without a name',
    run: () => new PluginRegistry().create('teacher', { model: 'x' }),
    code: 'E_BAD_CONFIG',
    field: 'teacher',
  },
  { name: 'constant(NaN)', run: () => constant(Number.NaN), code: 'E_BAD_CONFIG', field: 'constant.value' },
  { name: 'linear: negative steps', run: () => linear({ from: 1, to: 0, steps: -3 }), code: 'E_BAD_CONFIG', field: 'steps' },
  { name: 'cosine: steps 0', run: () => cosine({ from: 1, to: 0, steps: 0 }), code: 'E_BAD_CONFIG', field: 'steps' },
  { name: 'warmup: steps negative', run: () => warmup({ steps: -1, then: constant(1) }), code: 'E_BAD_CONFIG', field: 'steps' },
  // core: files
  { name: 'safetensors: 5 bytes', run: () => decodeSafetensors(new Uint8Array(5)), code: 'E_CORRUPT_FILE', field: '' },
  {
    name: 'safetensors: header longer than the file',
    run: () => decodeSafetensors(new Uint8Array([255, 0, 0, 0, 0, 0, 0, 0, 1])),
    code: 'E_CORRUPT_FILE',
    field: 'truncated',
  },
  {
    name: 'safetensors: data shorter than the shape',
    run: () => encodeSafetensors({ tensors: { w: { dtype: 'f32', shape: [3], data: new Float32Array(2) } } }),
    code: 'E_SHAPE_MISMATCH',
    field: 'w',
  },
  {
    name: 'checkpoint: garbage file',
    run: async (dir) => (await writeFile(join(dir, 'ckpt'), 'garbage!'), new FileCheckpointStore(join(dir, 'ckpt')).load()),
    code: 'E_CORRUPT_FILE',
    field: 'ckpt',
  },
  { name: 'checkpoint: a folder', run: (dir) => new FileCheckpointStore(join(dir, 'adir')).load(), code: 'E_BAD_VALUE', field: 'adir' },
  { name: 'writeFileAtomic onto a folder', run: (dir) => writeFileAtomic(join(dir, 'adir'), 'x'), code: 'E_BAD_VALUE', field: 'adir' },
  {
    name: 'writeFileAtomic below a file',
    run: (dir) => writeFileAtomic(join(dir, 'out.jsonl', 'x'), 'x'),
    code: 'E_BAD_VALUE',
    field: 'out.jsonl',
  },
  {
    name: 'readUserFile: missing',
    run: (dir) => readUserFile(join(dir, 'nope'), 'data.train', 'utf8'),
    code: 'E_NOT_FOUND',
    field: 'data.train',
  },
  {
    name: 'readUserFile: a folder',
    run: (dir) => readUserFile(join(dir, 'adir'), 'data.train', 'utf8'),
    code: 'E_BAD_VALUE',
    field: 'data.train',
  },
  // black-box: requests, teachers, collect
  {
    name: 'request: prompt and messages',
    run: () => checkCompletionRequest({ prompt: 'a', messages: [{ role: 'user', content: 'b' }] }),
    code: 'E_BAD_VALUE',
    field: 'request.messages',
  },
  { name: 'request: neither', run: () => checkCompletionRequest({}), code: 'E_BAD_VALUE', field: 'request.prompt' },
  { name: 'request: messages []', run: () => checkCompletionRequest({ messages: [] }), code: 'E_BAD_VALUE', field: 'request.messages' },
  {
    name: 'request: messages [null]',
    run: () => checkCompletionRequest({ messages: [null] as never }),
    code: 'E_BAD_VALUE',
    field: 'request.messages[0]',
  },
  {
    name: 'request: content 42',
    run: () => checkCompletionRequest({ messages: [{ role: 'user', content: 42 }] as never }),
    code: 'E_BAD_VALUE',
    field: 'request.messages[0].content',
  },
  {
    name: 'request: no role',
    run: () => checkCompletionRequest({ messages: [{ content: 'x' }] as never }),
    code: 'E_BAD_VALUE',
    field: 'request.messages[0].role',
  },
  {
    name: 'OpenAITeacher: no scheme',
    run: () => new OpenAITeacher({ baseURL: 'localhost:8080/v1', model: 'm', env: {} }),
    code: 'E_BAD_VALUE',
    field: 'baseURL',
  },
  {
    name: 'OpenAITeacher: credentials in the URL',
    run: () => new OpenAITeacher({ baseURL: `http://u:${KEY}@h/v1`, model: 'm', env: {} }),
    code: 'E_BAD_VALUE',
    field: 'baseURL',
  },
  {
    name: 'OpenAITeacher: port 99999',
    run: () => new OpenAITeacher({ baseURL: 'http://h:99999/v1', model: 'm', env: {} }),
    code: 'E_BAD_VALUE',
    field: 'baseURL',
  },
  {
    name: 'OpenAITeacher: empty model',
    run: () => new OpenAITeacher({ baseURL: 'http://h/v1', model: '', env: {} }),
    code: 'E_BAD_VALUE',
    field: 'model',
  },
  {
    name: 'OpenAITeacher.complete: messages []',
    run: () => new OpenAITeacher({ baseURL: 'http://127.0.0.1:9/v1', model: 'm', env: {} }).complete({ messages: [] }),
    code: 'E_BAD_VALUE',
    field: 'request.messages',
  },
  {
    name: 'collect: concurrency 0',
    run: (dir) => collect({ teacher: echo, items: [item('a')], output: join(dir, 'out.jsonl'), concurrency: 0 }),
    code: 'E_BAD_VALUE',
    field: 'concurrency',
  },
  {
    name: 'collect: timeoutMs 0',
    run: (dir) => collect({ teacher: echo, items: [item('a')], output: join(dir, 'out.jsonl'), timeoutMs: 0 }),
    code: 'E_BAD_VALUE',
    field: 'timeoutMs',
  },
  {
    name: 'collect: duplicate ids',
    run: (dir) => collect({ teacher: echo, items: [item('a'), item('a')], output: join(dir, 'out.jsonl') }),
    code: 'E_BAD_INPUT',
    field: 'items[1].id',
  },
  {
    name: 'collect: empty id',
    run: (dir) => collect({ teacher: echo, items: [item('')], output: join(dir, 'out.jsonl') }),
    code: 'E_BAD_INPUT',
    field: 'items[0].id',
  },
  {
    name: 'collect: output is a folder',
    run: (dir) => collect({ teacher: echo, items: [item('a')], output: join(dir, 'adir') }),
    code: 'E_BAD_VALUE',
    field: 'output',
  },
  {
    name: 'collect: errorsPath is a folder',
    run: (dir) => collect({ teacher: echo, items: [item('a')], output: join(dir, 'new.jsonl'), errorsPath: join(dir, 'adir') }),
    code: 'E_BAD_VALUE',
    field: 'errorsPath',
  },
  {
    name: 'collect: budget negative',
    run: (dir) => collect({ teacher: echo, items: [item('a')], output: join(dir, 'new.jsonl'), budget: { maxTokens: -1 } }),
    code: 'E_BAD_VALUE',
    field: 'budget.maxTokens',
  },
  {
    name: 'BudgetTracker: cost cap without pricing',
    run: () => new BudgetTracker({ maxCostUsd: 1 }),
    code: 'E_BAD_VALUE',
    field: 'budget.pricing',
  },
  {
    name: 'FileResponseCache: a key that is not a digest',
    run: (dir) => new FileResponseCache(join(dir, 'c')).get('../../etc/passwd'),
    code: 'E_BAD_VALUE',
    field: 'key',
  },
  {
    name: 'readJsonl: corrupt middle line',
    run: async (dir) => (await writeFile(join(dir, 'bad.jsonl'), '{"a":1}\nnope\n{"b":2}\n'), readJsonl(join(dir, 'bad.jsonl'))),
    code: 'E_CORRUPT_FILE',
    field: 'line 2',
  },
  {
    name: 'parseJsonlText: bad line',
    run: () => parseJsonlText('{"a":1}\n{"b":', 'train.jsonl'),
    code: 'E_BAD_INPUT',
    field: 'train.jsonl',
  },
  {
    name: 'runCollectConfig: cache "yes"',
    run: (dir) => runCollectConfig({ teacher: 'echo', input: { requests: 'r.jsonl' }, output: 'o.jsonl', cache: 'yes' }, { baseDir: dir }),
    code: 'E_BAD_CONFIG',
    field: 'cache',
  },
  {
    name: 'runStepByStep: train needs a device',
    run: (dir) => runStepByStep({ data: { dir: 'd', dataset: 'svamp' }, output: 'o', train: {} }, { baseDir: dir }),
    code: 'E_BAD_CONFIG',
    field: 'train',
  },
  // scaling laws
  {
    name: 'predictSupervisedLoss: params 0',
    run: () => predictSupervisedLoss(BUSBRIDGE_SUPERVISED, 0, 1e9),
    code: 'E_BAD_VALUE',
    field: 'params',
  },
  {
    name: 'predictSupervisedLoss: tokens -1',
    run: () => predictSupervisedLoss(BUSBRIDGE_SUPERVISED, 1e9, -1),
    code: 'E_BAD_VALUE',
    field: 'tokens',
  },
  {
    name: 'planDistillation: budget 0',
    run: () => planDistillation({ studentParams: 1e9, budget: 0, scenario: 'free' }),
    code: 'E_BAD_VALUE',
    field: 'budget',
  },
  {
    name: 'planDistillation: studentParams NaN',
    run: () => planDistillation({ studentParams: Number.NaN, budget: 1e21, scenario: 'free' }),
    code: 'E_BAD_VALUE',
    field: 'studentParams',
  },
  {
    name: 'supervisedComputeOptimal: budget -1',
    run: () => supervisedComputeOptimal({ budget: -1 }),
    code: 'E_BAD_VALUE',
    field: 'budget',
  },
  {
    name: 'parseQuantity: 1Q',
    run: () => {
      const v = parseQuantity('1Q');
      if (!Number.isFinite(v)) requirePositive('--student', v);
    },
    code: 'E_BAD_VALUE',
    field: '--student',
  },
  { name: 'readSupervisedRuns: no loss column', run: () => readSupervisedRuns('params,tokens\n1,2\n'), code: 'E_BAD_INPUT', field: 'loss' },
  {
    name: 'fitSupervised: too few runs',
    run: () => fitSupervised(readSupervisedRuns('params,tokens,loss\n1e8,1e9,3\n2e8,2e9,2.9\n')),
    code: 'E_BAD_INPUT',
    field: 'runs',
  },
  // white-box teacher cache
  {
    name: 'cache writer: rows 0',
    run: (dir) => TeacherCacheWriter.open({ dir: join(dir, 'cache'), kind: 'dense', rows: 0, vocab: 4, teacher: 't' }),
    code: 'E_BAD_VALUE',
    field: 'rows',
  },
  {
    name: 'cache writer: rowsPerShard 0',
    run: (dir) => TeacherCacheWriter.open({ dir: join(dir, 'cache'), kind: 'dense', rows: 4, vocab: 4, teacher: 't', rowsPerShard: 0 }),
    code: 'E_BAD_VALUE',
    field: 'rowsPerShard',
  },
  {
    name: 'cache writer: k > vocab',
    run: (dir) => TeacherCacheWriter.open({ dir: join(dir, 'cache'), kind: 'topk', k: 9, rows: 4, vocab: 4, teacher: 't' }),
    code: 'E_BAD_VALUE',
    field: 'k',
  },
  { name: 'cache reader: no index', run: (dir) => TeacherCacheReader.open(join(dir, 'adir')), code: 'E_NOT_FOUND', field: 'dir' },
  {
    name: 'cache reader: index rowsPerShard 0',
    run: async (dir) => {
      await mkdir(join(dir, 'c2'));
      await writeFile(
        join(dir, 'c2', 'index.json'),
        JSON.stringify({
          format: 'distillery-teacher-cache/1',
          kind: 'dense',
          rows: 4,
          vocab: 4,
          teacher: 't',
          rowsPerShard: 0,
          shards: [],
          createdAt: '',
        }),
      );
      return TeacherCacheReader.open(join(dir, 'c2'));
    },
    code: 'E_CORRUPT_FILE',
    field: 'rowsPerShard',
  },
];

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir)) {
    const info = await stat(join(dir, name));
    out.set(name, info.isDirectory() ? '/' : await readFile(join(dir, name), 'utf8'));
  }
  return out;
}

describe('libraries: bad input is a typed error naming the field, and damages nothing', () => {
  it(`has at least 50 library cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'distillery-bad-lib-'));
      await writeFile(join(dir, 'out.jsonl'), 'precious\n');
      await mkdir(join(dir, 'adir'));
      let error: unknown;
      try {
        await c.run(dir);
      } catch (e) {
        error = e;
      }
      expect(isDistilleryError(error), `${c.name}: ${String(error)}`).toBe(true);
      const e = error as { code: string; message: string; details: Record<string, unknown> };
      expect(e.code, e.message).toBe(c.code);
      expect(`${e.message} ${JSON.stringify(e.details)}`).toContain(c.field);
      expect(`${e.message} ${JSON.stringify(e.details)}`).not.toContain(KEY);
      // Whatever the call wrote before failing was cleaned up; the sentinel is intact.
      const after = await snapshot(dir);
      expect(after.get('out.jsonl')).toBe('precious\n');
      for (const name of after.keys()) expect(name, c.name).not.toMatch(/\.tmp-|\.lock$/);
    });
  }
});
