import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, redactSecrets } from '@distillery/core';
import { z } from 'zod';
import { OpenAITeacher, type CollectItem } from '../src/index.js';
import { collect, runCollectConfig } from '../src/node.js';
import { tempDir } from './helpers.js';

const KEY = 'sk-live-9fQ2xW7mZ4pL8vT3nR6bY1cK5hJ0dG';

/** Every form in which a careless server might echo the key back. */
const VARIANTS: Record<string, string> = {
  exact: KEY,
  prefix: KEY.slice(0, 12),
  suffix: KEY.slice(-10),
  middle: KEY.slice(9, 17),
  upper: KEY.toUpperCase(),
  lower: KEY.toLowerCase(),
  base64: Buffer.from(KEY).toString('base64'),
  base64Bearer: Buffer.from(`Bearer ${KEY}`).toString('base64'),
  basicAuth: Buffer.from(`user:${KEY}`).toString('base64'),
  base64url: Buffer.from(`xy${KEY}`).toString('base64url'),
  urlEncoded: encodeURIComponent(`${KEY}/+=`),
};

function leaks(text: string): string[] {
  return Object.entries(VARIANTS)
    .filter(([, v]) => text.includes(v))
    .map(([name]) => name);
}

/** A loopback server that echoes variant `prompt` of the key: in an error body for `err:*`, in the answer otherwise. */
async function echoServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { prompt: string };
      const [mode, name] = body.prompt.split(':') as [string, string];
      const echoed = `you sent ${VARIANTS[name]} (auth header ${req.headers.authorization})`;
      if (mode === 'err') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: echoed } }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            choices: [{ text: echoed, finish_reason: 'stop', logprobs: null }],
            usage: { prompt_tokens: 3, completion_tokens: 9 },
          }),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('secret hygiene', () => {
  it('redactSecrets hides every variant and keeps ordinary text', () => {
    for (const [name, variant] of Object.entries(VARIANTS)) {
      const out = redactSecrets(`before ${variant} after`, [KEY]);
      expect(leaks(out), name).toEqual([]);
      expect(out, name).toMatch(/^before .*\*\*\*.* after$/);
    }
    expect(redactSecrets('nothing secret here: HTTP 500 upstream failed', [KEY])).toBe('nothing secret here: HTTP 500 upstream failed');
    expect(redactSecrets('short abcd key', ['abcd'])).toBe('short *** key');
  });

  it('a key-echoing server leaks no variant into records, errors.jsonl or messages', async () => {
    const server = await echoServer();
    try {
      const dir = await tempDir();
      const output = join(dir, 'out.jsonl');
      const items: CollectItem[] = Object.keys(VARIANTS).flatMap((name) => [
        { id: `ok-${name}`, request: { prompt: `ok:${name}`, maxTokens: 4 } },
        { id: `err-${name}`, request: { prompt: `err:${name}`, maxTokens: 4 } },
      ]);
      const retries: string[] = [];
      const teacher = new OpenAITeacher({ baseURL: server.url, model: 'm', apiKey: KEY, env: {} });
      const summary = await collect({ teacher, items, output, retry: { retries: 0 }, onRetry: (r) => retries.push(String(r.error)) });
      expect(summary.done).toBe(Object.keys(VARIANTS).length);
      expect(summary.failed).toBe(Object.keys(VARIANTS).length);
      const records = await readFile(output, 'utf8');
      const errors = await readFile(summary.errorsPath, 'utf8');
      expect(records).toContain('you sent ***');
      expect(errors).toContain('HTTP 400');
      expect(leaks(records)).toEqual([]);
      expect(leaks(errors)).toEqual([]);
      // The CLI prints exactly these messages to stderr.
      await expect(teacher.complete({ prompt: 'err:upper' })).rejects.toSatisfy(
        (e: Error) => leaks(`${e.message} ${JSON.stringify(e)}`).length === 0,
      );
    } finally {
      await server.close();
    }
  });

  it('config errors never echo secret fields or credential-bearing URLs', async () => {
    const schema = z
      .object({ apiKey: z.number(), headers: z.record(z.string(), z.number()), baseURL: z.string().url(), token: z.boolean() })
      .strict();
    const error = (() => {
      try {
        parseConfig(
          schema,
          { apiKey: KEY, headers: { authorization: `Bearer ${KEY}` }, baseURL: `api.example.com/v1?api-key=${KEY}`, token: KEY },
          'teacher',
        );
      } catch (e) {
        return e as Error & { details: unknown };
      }
      throw new Error('accepted');
    })();
    expect(error).toMatchObject({ code: 'E_BAD_CONFIG' });
    const shown = `${error.message} ${JSON.stringify(error.details)}`;
    expect(leaks(shown)).toEqual([]);
    expect(shown).toContain('teacher.apiKey');
    expect(shown).toContain('not shown');
    // A base URL missing its scheme, given to the teacher itself or through a collect config.
    for (const baseURL of [`user:${KEY}@api.example.com/v1`, `api.example.com/v1?api-key=${KEY}`, `https://u:${KEY}@api.example.com/v1`]) {
      const thrown = (() => {
        try {
          new OpenAITeacher({ baseURL, model: 'm', env: {} });
        } catch (e) {
          return e as Error & { details: unknown };
        }
        throw new Error(`accepted ${baseURL}`);
      })();
      expect(thrown).toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'baseURL' } });
      expect(leaks(`${thrown.message} ${JSON.stringify(thrown.details)}`), baseURL).toEqual([]);
      const viaConfig = await runCollectConfig(
        { teacher: { name: 'openai', baseURL, model: 'm', apiKey: KEY }, input: { requests: 'r.jsonl' }, output: 'o.jsonl' },
        { baseDir: await tempDir() },
      ).catch((e: Error & { details: unknown }) => e);
      expect(leaks(`${(viaConfig as Error).message} ${JSON.stringify((viaConfig as { details?: unknown }).details)}`), baseURL).toEqual([]);
    }
  });
});
