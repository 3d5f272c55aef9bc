/**
 * Hostile input to every `distillery` command, table-driven and in-process (`runCli`): each case
 * must exit 2 with a typed error whose code and named field are asserted, and must leave every
 * file in its working folder exactly as it was (no output damaged, no temp file left behind).
 */
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/index.js';
import { captureIO } from './capture-io.js';

interface CliCase {
  name: string;
  argv: string[];
  /** Files to create first (path → content; a trailing `/` makes a folder). */
  files?: Record<string, string>;
  code: string;
  /** Text the message must contain: the field (flag, config path, file) it names. */
  field: string;
}

const SENTINEL = 'precious output: must never be touched\n';
const KEY = 'sk-bad-input-7Hq2Lm9Xz4Rt1Wv';

const config = (value: unknown) => JSON.stringify(value);
const teacher = { name: 'openai', baseURL: 'http://127.0.0.1:9/v1', model: 'm' };
const collectBase = { teacher, input: { requests: 'requests.jsonl' }, output: 'out/records.jsonl' };
const requests = (...lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
const goodRequest = { id: 'a', prompt: 'hello' };

function collectCase(name: string, value: unknown, code: string, field: string, files: Record<string, string> = {}): CliCase {
  return {
    name: `collect: ${name}`,
    argv: ['collect', 'c.json'],
    files: { 'c.json': config(value), 'requests.jsonl': requests(goodRequest), ...files },
    code,
    field,
  };
}

function requestsCase(name: string, lines: unknown[], field: string, code = 'E_BAD_INPUT'): CliCase {
  return collectCase(`requests file: ${name}`, collectBase, code, field, { 'requests.jsonl': requests(...lines) });
}

function stepCase(name: string, value: unknown, code: string, field: string, files: Record<string, string> = {}): CliCase {
  return { name: `step-by-step: ${name}`, argv: ['step-by-step', 's.json'], files: { 's.json': config(value), ...files }, code, field };
}

const csv = 'params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n';

const CASES: CliCase[] = [
  // plan
  { name: 'plan: no --student', argv: ['plan', '--budget', '1e21'], code: 'E_BAD_VALUE', field: '--student' },
  { name: 'plan: no --budget', argv: ['plan', '--student', '1B'], code: 'E_BAD_VALUE', field: '--budget' },
  { name: 'plan: --student not a number', argv: ['plan', '--student', 'big', '--budget', '1e21'], code: 'E_BAD_VALUE', field: '--student' },
  {
    name: 'plan: --student -1 (read as a flag)',
    argv: ['plan', '--student', '-1', '--budget', '1e21'],
    code: 'E_BAD_CONFIG',
    field: '--student',
  },
  { name: 'plan: --student=-1', argv: ['plan', '--student=-1', '--budget', '1e21'], code: 'E_BAD_VALUE', field: '--student' },
  { name: 'plan: --student 0', argv: ['plan', '--student', '0', '--budget', '1e21'], code: 'E_BAD_VALUE', field: '--student' },
  { name: 'plan: --budget NaN', argv: ['plan', '--student', '1B', '--budget', 'NaN'], code: 'E_BAD_VALUE', field: '--budget' },
  {
    name: 'plan: --budget below the laws (1e5)',
    argv: ['plan', '--student', '1B', '--budget', '1e5'],
    code: 'E_BAD_VALUE',
    field: '--budget',
  },
  {
    name: 'plan: --budget above the laws (1e40)',
    argv: ['plan', '--student', '1B', '--budget', '1e40'],
    code: 'E_BAD_VALUE',
    field: '--budget',
  },
  { name: 'plan: --budget Infinity', argv: ['plan', '--student', '1B', '--budget', 'Infinity'], code: 'E_BAD_VALUE', field: '--budget' },
  {
    name: 'plan: unknown --scenario',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--scenario', 'cheap'],
    code: 'E_BAD_VALUE',
    field: '--scenario',
  },
  {
    name: 'plan: unknown --flops',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--flops', 'exact'],
    code: 'E_BAD_VALUE',
    field: '--flops',
  },
  {
    name: 'plan: --laws missing',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--laws', 'nope.json'],
    code: 'E_NOT_FOUND',
    field: '--laws',
  },
  {
    name: 'plan: --laws is a folder',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--laws', 'adir'],
    files: { 'adir/': '' },
    code: 'E_BAD_VALUE',
    field: '--laws',
  },
  {
    name: 'plan: --laws not JSON',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--laws', 'laws.json'],
    files: { 'laws.json': '{nope' },
    code: 'E_BAD_VALUE',
    field: '--laws',
  },
  {
    name: 'plan: positional argument',
    argv: ['plan', 'extra', '--student', '1B', '--budget', '1e21'],
    code: 'E_BAD_CONFIG',
    field: 'extra',
  },
  {
    name: 'plan: unknown flag',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--colour'],
    code: 'E_BAD_CONFIG',
    field: '--colour',
  },
  { name: 'plan: flag without its value', argv: ['plan', '--student'], code: 'E_BAD_CONFIG', field: '--student' },
  {
    name: 'plan: --plot onto a folder',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--plot', 'adir'],
    files: { 'adir/': '' },
    code: 'E_BAD_VALUE',
    field: '--plot',
  },
  {
    name: 'plan: --iso-plot onto a folder',
    argv: ['plan', '--student', '1B', '--budget', '1e21', '--iso-plot', 'adir'],
    files: { 'adir/': '' },
    code: 'E_BAD_VALUE',
    field: '--iso-plot',
  },
  {
    name: 'plan: --student with a unit typo',
    argv: ['plan', '--student', '1Q', '--budget', '1e21'],
    code: 'E_BAD_VALUE',
    field: '--student',
  },

  // fit
  { name: 'fit: runs file missing', argv: ['fit', 'runs.csv'], code: 'E_NOT_FOUND', field: 'runs' },
  { name: 'fit: runs file is a folder', argv: ['fit', 'adir'], files: { 'adir/': '' }, code: 'E_BAD_VALUE', field: 'runs' },
  { name: 'fit: runs JSON not an array', argv: ['fit', 'runs.json'], files: { 'runs.json': '{}' }, code: 'E_BAD_INPUT', field: 'runs' },
  { name: 'fit: empty CSV', argv: ['fit', 'runs.csv'], files: { 'runs.csv': '' }, code: 'E_BAD_INPUT', field: '' },
  {
    name: 'fit: CSV without a loss column',
    argv: ['fit', 'runs.csv'],
    files: { 'runs.csv': 'params,tokens\n1e8,2e9\n' },
    code: 'E_BAD_INPUT',
    field: 'loss',
  },
  {
    name: 'fit: negative loss',
    argv: ['fit', 'runs.csv'],
    files: { 'runs.csv': 'params,tokens,loss\n1e8,2e9,-3\n' },
    code: 'E_BAD_INPUT',
    field: 'loss',
  },
  {
    name: 'fit: text where a number goes',
    argv: ['fit', 'runs.csv'],
    files: { 'runs.csv': 'params,tokens,loss\nlots,2e9,3\n' },
    code: 'E_BAD_INPUT',
    field: 'params',
  },
  {
    name: 'fit: --columns with an unknown field',
    argv: ['fit', 'runs.csv', '--columns', 'size=params'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--columns',
  },
  {
    name: 'fit: --columns without a column',
    argv: ['fit', 'runs.csv', '--columns', 'params='],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--columns',
  },
  {
    name: 'fit: unknown --law',
    argv: ['fit', 'runs.csv', '--law', 'moore'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--law',
  },
  {
    name: 'fit: --starts 0',
    argv: ['fit', 'runs.csv', '--starts', '0'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--starts',
  },
  {
    name: 'fit: --huber-delta=-1',
    argv: ['fit', 'runs.csv', '--huber-delta=-1'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--huber-delta',
  },
  {
    name: 'fit: --huber-delta 0',
    argv: ['fit', 'runs.csv', '--huber-delta', '0'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--huber-delta',
  },
  {
    name: 'fit: --bootstrap fractional',
    argv: ['fit', 'runs.csv', '--bootstrap', '2.5'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--bootstrap',
  },
  {
    name: 'fit: --seed not an integer',
    argv: ['fit', 'runs.csv', '--seed', 'x'],
    files: { 'runs.csv': csv },
    code: 'E_BAD_VALUE',
    field: '--seed',
  },
  {
    name: 'fit: distillation --supervised missing',
    argv: ['fit', 'd.csv', '--law', 'distillation', '--supervised', 'nope.json'],
    files: { 'd.csv': 'studentParams,studentTokens,studentLoss,teacherLoss\n1e8,1e9,3,2.5\n' },
    code: 'E_NOT_FOUND',
    field: '--supervised',
  },
  {
    name: 'fit: distillation --supervised is a folder',
    argv: ['fit', 'd.csv', '--law', 'distillation', '--supervised', 'adir'],
    files: { 'adir/': '', 'd.csv': 'studentParams,studentTokens,studentLoss,teacherLoss\n1e8,1e9,3,2.5\n' },
    code: 'E_BAD_VALUE',
    field: '--supervised',
  },
  { name: 'fit: unknown flag', argv: ['fit', 'runs.csv', '--fast'], files: { 'runs.csv': csv }, code: 'E_BAD_CONFIG', field: '--fast' },

  // collect: the config file
  { name: 'collect: config missing', argv: ['collect', 'c.json'], code: 'E_NOT_FOUND', field: 'config' },
  { name: 'collect: config is a folder', argv: ['collect', 'adir'], files: { 'adir/': '' }, code: 'E_BAD_VALUE', field: 'config' },
  {
    name: 'collect: config not JSON',
    argv: ['collect', 'c.json'],
    files: { 'c.json': '{"teacher": ' },
    code: 'E_BAD_CONFIG',
    field: 'c.json',
  },
  collectCase('config is an array', [], 'E_BAD_CONFIG', '(root)'),
  collectCase('no teacher', { input: collectBase.input, output: 'o.jsonl' }, 'E_BAD_CONFIG', 'teacher'),
  collectCase('no output', { teacher, input: collectBase.input }, 'E_BAD_CONFIG', 'output'),
  collectCase('no input', { teacher, output: 'o.jsonl' }, 'E_BAD_CONFIG', 'input'),
  collectCase(
    'two inputs',
    { ...collectBase, input: { requests: 'requests.jsonl', examples: 'e.jsonl', preset: 'arithmetic' } },
    'E_BAD_CONFIG',
    'input.requests',
  ),
  collectCase('examples without a preset', { ...collectBase, input: { examples: 'e.jsonl' } }, 'E_BAD_CONFIG', 'input.preset'),
  collectCase('unknown key', { ...collectBase, colour: 'red' }, 'E_BAD_CONFIG', 'colour'),
  collectCase('unknown teacher plugin', { ...collectBase, teacher: { name: 'gpt-oracle' } }, 'E_UNKNOWN_PLUGIN', 'gpt-oracle'),
  collectCase(
    'teacher without a model',
    { ...collectBase, teacher: { name: 'openai', baseURL: 'http://127.0.0.1:9/v1' } },
    'E_BAD_CONFIG',
    'teacher.model',
  ),
  collectCase(
    'baseURL without a scheme',
    { ...collectBase, teacher: { ...teacher, baseURL: '127.0.0.1:9/v1' } },
    'E_BAD_CONFIG',
    'teacher.baseURL',
  ),
  collectCase(
    'baseURL with credentials',
    { ...collectBase, teacher: { ...teacher, baseURL: `http://u:${KEY}@127.0.0.1:9/v1` } },
    'E_BAD_VALUE',
    'baseURL',
  ),
  collectCase(
    'baseURL with an impossible port',
    { ...collectBase, teacher: { ...teacher, baseURL: 'http://127.0.0.1:99999/v1' } },
    'E_BAD_VALUE',
    'baseURL',
  ),
  collectCase('apiKey a number', { ...collectBase, teacher: { ...teacher, apiKey: 42 } }, 'E_BAD_CONFIG', 'teacher.apiKey'),
  collectCase('cache: "yes"', { ...collectBase, cache: 'yes' }, 'E_BAD_CONFIG', 'cache'),
  collectCase('cache without dir', { ...collectBase, cache: {} }, 'E_BAD_CONFIG', 'cache'),
  collectCase('concurrency 0', { ...collectBase, concurrency: 0 }, 'E_BAD_CONFIG', 'concurrency'),
  collectCase('concurrency 2.5', { ...collectBase, concurrency: 2.5 }, 'E_BAD_CONFIG', 'concurrency'),
  collectCase('timeoutMs negative', { ...collectBase, timeoutMs: -5 }, 'E_BAD_CONFIG', 'timeoutMs'),
  collectCase('retry.jitter unknown', { ...collectBase, retry: { jitter: 'some' } }, 'E_BAD_CONFIG', 'retry.jitter'),
  collectCase('retry.factor below 1', { ...collectBase, retry: { factor: 0.5 } }, 'E_BAD_CONFIG', 'retry.factor'),
  collectCase(
    'rateLimit.requestsPerMinute 0',
    { ...collectBase, rateLimit: { requestsPerMinute: 0 } },
    'E_BAD_CONFIG',
    'rateLimit.requestsPerMinute',
  ),
  collectCase('budget.maxTokens negative', { ...collectBase, budget: { maxTokens: -1 } }, 'E_BAD_CONFIG', 'budget.maxTokens'),
  collectCase('budget.maxCostUsd without pricing', { ...collectBase, budget: { maxCostUsd: 5 } }, 'E_BAD_CONFIG', 'budget.pricing'),
  collectCase('sampling.temperature negative', { ...collectBase, sampling: { temperature: -1 } }, 'E_BAD_CONFIG', 'sampling.temperature'),
  collectCase('sampling.topLogprobs 50', { ...collectBase, sampling: { topLogprobs: 50 } }, 'E_BAD_CONFIG', 'sampling.topLogprobs'),
  collectCase('sampling.maxTokens 0', { ...collectBase, sampling: { maxTokens: 0 } }, 'E_BAD_CONFIG', 'sampling.maxTokens'),
  collectCase('fsync "yes"', { ...collectBase, fsync: 'yes' }, 'E_BAD_CONFIG', 'fsync'),
  collectCase('recorded teacher without the release', { ...collectBase, teacher: 'recorded' }, 'E_BAD_CONFIG', 'teacher'),
  collectCase('output is a folder', { ...collectBase, output: 'adir' }, 'E_BAD_VALUE', 'output', { 'adir/': '' }),
  collectCase('requests file missing', { ...collectBase, input: { requests: 'nope.jsonl' } }, 'E_NOT_FOUND', 'input.requests'),
  collectCase('requests file is a folder', { ...collectBase, input: { requests: 'adir' } }, 'E_BAD_VALUE', 'input.requests', {
    'adir/': '',
  }),
  collectCase(
    'stepByStep.dataset unknown',
    { ...collectBase, input: { stepByStep: { dir: 'd', dataset: 'gsm8k', split: 'train' } } },
    'E_BAD_CONFIG',
    'input.stepByStep.dataset',
  ),
  collectCase(
    'stepByStep.limit 0',
    { ...collectBase, input: { stepByStep: { dir: 'd', dataset: 'svamp', split: 'train', limit: 0 } } },
    'E_BAD_CONFIG',
    'input.stepByStep.limit',
  ),
  collectCase(
    'stepByStep release folder missing',
    { ...collectBase, teacher: 'recorded', input: { stepByStep: { dir: 'nope', dataset: 'svamp', split: 'train' } } },
    'E_NOT_FOUND',
    'nope',
  ),
  collectCase('plugins not an array', { ...collectBase, plugins: 'x' }, 'E_BAD_CONFIG', 'plugins'),
  collectCase(
    'exemplar with an unknown key',
    {
      ...collectBase,
      input: { examples: 'e.jsonl', preset: 'arithmetic', exemplars: [{ input: 'q', rationale: 'r', label: '1', why: 'x' }] },
    },
    'E_BAD_CONFIG',
    'input.exemplars[0]',
  ),
  requestsCase('a line that is not JSON', [goodRequest, '{"id": "b", "prompt": '], 'requests.jsonl'),
  requestsCase('a line that is not an object', [goodRequest, '[1, 2]'], 'requests.jsonl:2'),
  requestsCase('no id', [{ prompt: 'x' }], 'requests.jsonl:1.id'),
  requestsCase('empty id', [{ id: '', prompt: 'x' }], 'requests.jsonl:1.id'),
  requestsCase('neither prompt nor messages', [{ id: 'a' }], 'requests.jsonl:1.prompt'),
  requestsCase(
    'prompt and messages both',
    [{ id: 'a', prompt: 'x', messages: [{ role: 'user', content: 'y' }] }],
    'requests.jsonl:1.messages',
  ),
  requestsCase('prompt a number', [{ id: 'a', prompt: 42 }], 'requests.jsonl:1.prompt'),
  requestsCase('messages empty', [{ id: 'a', messages: [] }], 'requests.jsonl:1.messages'),
  requestsCase('messages not an array', [{ id: 'a', messages: 'hi' }], 'requests.jsonl:1.messages'),
  requestsCase('messages [null]', [{ id: 'a', messages: [null] }], 'requests.jsonl:1.messages[0]'),
  requestsCase('message without content', [{ id: 'a', messages: [{ role: 'user' }] }], 'requests.jsonl:1.messages[0].content'),
  requestsCase('message content 42', [{ id: 'a', messages: [{ role: 'user', content: 42 }] }], 'requests.jsonl:1.messages[0].content'),
  requestsCase(
    'message with an unknown role',
    [{ id: 'a', messages: [{ role: 'wizard', content: 'x' }] }],
    'requests.jsonl:1.messages[0].role',
  ),
  requestsCase('second line bad', [goodRequest, { id: 'b', messages: [{ content: 'x' }] }], 'requests.jsonl:2.messages[0].role'),
  requestsCase('per-line temperature negative', [{ id: 'a', prompt: 'x', temperature: -2 }], 'temperature', 'E_BAD_CONFIG'),
  requestsCase('per-line unknown key', [{ id: 'a', prompt: 'x', colour: 'red' }], 'colour', 'E_BAD_CONFIG'),
  requestsCase('duplicate ids', [goodRequest, goodRequest], 'items[1].id'),

  // step-by-step
  { name: 'step-by-step: config missing', argv: ['step-by-step', 's.json'], code: 'E_NOT_FOUND', field: 'config' },
  {
    name: 'step-by-step: config is a folder',
    argv: ['step-by-step', 'adir'],
    files: { 'adir/': '' },
    code: 'E_BAD_VALUE',
    field: 'config',
  },
  stepCase('no data', { output: 'out' }, 'E_BAD_CONFIG', 'data'),
  stepCase('no output', { data: { dir: 'd', dataset: 'svamp' } }, 'E_BAD_CONFIG', 'output'),
  stepCase('dir without dataset', { data: { dir: 'd' }, output: 'out' }, 'E_BAD_CONFIG', 'data.dataset'),
  stepCase(
    'release and own files',
    { data: { dir: 'd', dataset: 'svamp', train: 't.jsonl' }, output: 'out' },
    'E_BAD_CONFIG',
    'data.train',
  ),
  stepCase('unknown dataset', { data: { dir: 'd', dataset: 'gsm8k' }, output: 'out' }, 'E_BAD_CONFIG', 'data.dataset'),
  stepCase('unknown preset', { data: { dir: 'd', dataset: 'svamp' }, preset: 'poetry', output: 'out' }, 'E_BAD_CONFIG', 'preset'),
  stepCase('limit 0', { data: { dir: 'd', dataset: 'svamp', limit: 0 }, output: 'out' }, 'E_BAD_CONFIG', 'data.limit'),
  stepCase(
    'validationFraction 1',
    { data: { dir: 'd', dataset: 'svamp' }, build: { validationFraction: 1 }, output: 'out' },
    'E_BAD_CONFIG',
    'build.validationFraction',
  ),
  stepCase(
    'build.labels unknown',
    { data: { dir: 'd', dataset: 'svamp' }, build: { labels: 'mine' }, output: 'out' },
    'E_BAD_CONFIG',
    'build.labels',
  ),
  stepCase(
    'own data without a preset',
    { data: { train: 't.jsonl' }, teacher, exemplars: [{ input: 'q', rationale: 'r', label: '1' }], output: 'out' },
    'E_BAD_CONFIG',
    'preset',
  ),
  stepCase('own data without a teacher', { data: { train: 't.jsonl' }, preset: 'arithmetic', output: 'out' }, 'E_BAD_CONFIG', 'teacher'),
  stepCase(
    'live teacher without exemplars',
    { data: { train: 't.jsonl' }, preset: 'arithmetic', teacher, output: 'out' },
    'E_BAD_CONFIG',
    'exemplars',
  ),
  stepCase(
    'a bad teacher is blamed on the teacher, not the exemplars',
    { data: { train: 't.jsonl' }, preset: 'arithmetic', teacher: { name: 'openai', model: 7 }, output: 'out' },
    'E_BAD_CONFIG',
    'teacher.model',
  ),
  stepCase(
    'unknown teacher plugin (no exemplars)',
    { data: { train: 't.jsonl' }, preset: 'arithmetic', teacher: { name: 'oracle' }, output: 'out' },
    'E_UNKNOWN_PLUGIN',
    'oracle',
  ),
  stepCase(
    'recorded teacher with own data',
    { data: { train: 't.jsonl' }, preset: 'arithmetic', teacher: 'recorded', output: 'out' },
    'E_BAD_CONFIG',
    'teacher',
  ),
  stepCase('release folder missing', { data: { dir: 'nope', dataset: 'svamp' }, output: 'out' }, 'E_NOT_FOUND', 'nope'),
  stepCase(
    'train file missing',
    { data: { train: 'nope.jsonl' }, preset: 'arithmetic', teacher: 'recorded', output: 'out' },
    'E_BAD_CONFIG',
    'teacher',
  ),
  stepCase(
    'train file is a folder',
    { data: { train: 'adir' }, preset: 'arithmetic', teacher, exemplars: [{ input: 'q', rationale: 'r', label: '1' }], output: 'out' },
    'E_BAD_VALUE',
    'adir',
    { 'adir/': '' },
  ),
  stepCase('unknown key', { data: { dir: 'd', dataset: 'svamp' }, output: 'out', epochs: 3 }, 'E_BAD_CONFIG', 'epochs'),

  // commands and flags
  { name: 'collect: two config files', argv: ['collect', 'a.json', 'b.json'], code: 'E_BAD_CONFIG', field: 'config file' },
  { name: 'collect: no config file', argv: ['collect'], code: 'E_BAD_CONFIG', field: 'config file' },
  { name: 'collect: unknown flag', argv: ['collect', 'c.json', '--turbo'], code: 'E_BAD_CONFIG', field: '--turbo' },
  { name: 'step-by-step: no config file', argv: ['step-by-step'], code: 'E_BAD_CONFIG', field: 'config file' },
  {
    name: 'fit: --out onto a folder (refused before fitting, no temp file)',
    argv: ['fit', 'runs.csv', '--out', 'adir'],
    files: { 'runs.csv': csv, 'adir/': '' },
    code: 'E_BAD_VALUE',
    field: '--out',
  },
  {
    name: 'fit: --plot onto a folder',
    argv: ['fit', 'runs.csv', '--plot', 'adir'],
    files: { 'runs.csv': csv, 'adir/': '' },
    code: 'E_BAD_VALUE',
    field: '--plot',
  },
];

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (sub: string): Promise<void> => {
    for (const name of await readdir(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      if ((await stat(join(dir, rel))).isDirectory()) {
        out.set(`${rel}/`, '');
        await walk(rel);
      } else out.set(rel, await readFile(join(dir, rel), 'utf8'));
    }
  };
  await walk('');
  return out;
}

describe('distillery: bad input is a typed error (exit 2) naming the field, and damages nothing', () => {
  it(`has at least 100 CLI cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'distillery-bad-'));
      // Existing outputs a careless command could overwrite or truncate.
      await mkdir(join(dir, 'out'), { recursive: true });
      await writeFile(join(dir, 'out', 'records.jsonl'), SENTINEL);
      await writeFile(join(dir, 'fit.json'), SENTINEL);
      for (const [path, content] of Object.entries(c.files ?? {})) {
        if (path.endsWith('/')) await mkdir(join(dir, path), { recursive: true });
        else await writeFile(join(dir, path), content);
      }
      const before = await snapshot(dir);
      const io = captureIO({ cwd: dir });
      const code = await runCli(c.argv, io);
      expect(code, io.err).toBe(2);
      expect(io.err).toMatch(new RegExp(`^distillery ${c.argv[0]}: ${c.code}: `));
      expect(io.err).toContain(c.field);
      // One line (plus the config issues' indented lines): never a stack trace.
      expect(io.err).not.toMatch(/\n\s+at /);
      expect(io.err).not.toContain(KEY);
      expect(await snapshot(dir)).toEqual(before);
    });
  }
});
