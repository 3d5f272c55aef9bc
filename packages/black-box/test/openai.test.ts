import { inspect } from 'node:util';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDistilleryError } from '@distillery/core';
import { LlamaCppTeacher } from '@distillery/plugin-teacher-llama-cpp';
import { OpenAITeacher, TeacherRequestError, topKTargetsFromCompletion } from '../src/index.js';
import { collect, serveOpenAI, type OpenAIServer } from '../src/node.js';
import { haveModel, modelPath, tempDir } from './helpers.js';
import { parseCompletionResponse } from '../src/openai.js';

const KEY = 'sk-distillery-test-SECRET-0123456789abcdef';

describe('parseCompletionResponse', () => {
  it('reads chat and completion choices, usage and both logprob formats', () => {
    expect(
      parseCompletionResponse(
        { choices: [{ message: { content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1 } },
        'chat',
      ),
    ).toEqual({
      text: 'hi',
      finishReason: 'stop',
      usage: { promptTokens: 3, completionTokens: 1 },
    });
    expect(parseCompletionResponse({ choices: [{ message: { content: null }, finish_reason: 'length' }] }, 'chat')).toEqual({
      text: '',
      finishReason: 'length',
    });
    const legacy = parseCompletionResponse(
      {
        choices: [
          { text: 'ab', logprobs: { tokens: ['a', 'b'], token_logprobs: [-0.1, -0.2], top_logprobs: [{ a: -0.1, c: -3 }, { b: -0.2 }] } },
        ],
      },
      'completions',
    );
    expect(legacy!.tokens).toEqual([
      {
        token: 'a',
        logprob: -0.1,
        top: [
          { token: 'a', logprob: -0.1 },
          { token: 'c', logprob: -3 },
        ],
      },
      { token: 'b', logprob: -0.2, top: [{ token: 'b', logprob: -0.2 }] },
    ]);
    for (const bad of [null, {}, { choices: [] }, { choices: [{ text: 3 }] }, { choices: [{ message: {} }] }]) {
      expect(
        parseCompletionResponse(
          bad,
          bad && 'choices' in bad && Array.isArray(bad.choices) && bad.choices[0] && 'message' in bad.choices[0] ? 'chat' : 'completions',
        ),
      ).toBeUndefined();
    }
  });
});

describe('OpenAITeacher basics', () => {
  it('never exposes its key (JSON, inspect) and reads it from the environment', () => {
    const teacher = new OpenAITeacher({ baseURL: 'http://127.0.0.1:1/v1', model: 'm', apiKeyEnv: 'MY_KEY', env: { MY_KEY: KEY } });
    expect(teacher.hasApiKey).toBe(true);
    expect(JSON.stringify(teacher)).not.toContain(KEY);
    expect(inspect(teacher, { depth: 5, showHidden: true })).not.toContain(KEY);
    expect(new OpenAITeacher({ baseURL: 'http://127.0.0.1:1/v1', model: 'm', env: {} }).hasApiKey).toBe(false);
  });

  it('validates its options and requests', async () => {
    expect(() => new OpenAITeacher({ baseURL: 'ftp://x', model: 'm' })).toThrow(/baseURL/);
    const teacher = new OpenAITeacher({ baseURL: 'http://127.0.0.1:1/v1', model: 'm', api: 'completions', env: {} });
    await expect(teacher.complete({ messages: [{ role: 'user', content: 'x' }] })).rejects.toThrow(/completions API/);
    await expect(teacher.complete({})).rejects.toThrow(/exactly one of prompt, messages/);
  });

  it('reports a refused connection as a permanent (not retried, fatal) network failure without the key or URL query', async () => {
    const teacher = new OpenAITeacher({ baseURL: 'http://127.0.0.1:9/v1?api-key=zzz', model: 'm', apiKey: KEY });
    const error = (await teacher.complete({ prompt: 'x' }).catch((e: unknown) => e)) as TeacherRequestError;
    expect(error).toBeInstanceOf(TeacherRequestError);
    expect(error.kind).toBe('network');
    expect(error.retryable).toBe(false);
    expect(error.fatal).toBe(true);
    expect(error.message).not.toContain(KEY);
    expect(error.message).not.toContain('zzz');
  });
});

describe.skipIf(!haveModel)('OpenAITeacher against a real model served on 127.0.0.1', () => {
  let llama: LlamaCppTeacher;
  let server: OpenAIServer;
  let teacher: OpenAITeacher;

  beforeAll(async () => {
    llama = await LlamaCppTeacher.load({ modelPath, contextSize: 512, sequences: 2 });
    server = await serveOpenAI(llama, { apiKey: KEY });
    teacher = new OpenAITeacher({ baseURL: server.url, model: 'stories260K', apiKeyEnv: 'TEST_KEY', env: { TEST_KEY: KEY } });
  });
  afterAll(async () => {
    await server?.close();
    await llama?.dispose();
  });

  it('lists the model', async () => {
    const res = await fetch(`${server.url}/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await res.json()) as { data: { id: string }[] }).data[0]!.id).toBe('stories260K');
  });

  it('/completions gives the same text, usage and log-probabilities as the model itself', async () => {
    const request = { prompt: 'Once upon a time', maxTokens: 10, topLogprobs: 3 };
    const direct = await llama.complete(request);
    const viaHttp = await teacher.complete(request);
    expect(viaHttp.text).toBe(direct.text);
    expect(viaHttp.finishReason).toBe('length');
    expect(viaHttp.usage).toEqual(direct.usage);
    expect(viaHttp.tokens).toHaveLength(direct.tokens!.length);
    viaHttp.tokens!.forEach((t, i) => {
      expect(t.token).toBe(direct.tokens![i]!.token);
      expect(t.logprob).toBeCloseTo(direct.tokens![i]!.logprob, 5);
      expect(t.top.map((a) => a.token)).toEqual(direct.tokens![i]!.top.map((a) => a.token));
    });
  });

  it('/chat/completions with messages, and with a prompt sent as one user message', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about a dog.' }];
    const direct = await llama.complete({ messages, maxTokens: 8, topLogprobs: 2 });
    const viaHttp = await teacher.complete({ messages, maxTokens: 8, topLogprobs: 2 });
    expect(viaHttp.text).toBe(direct.text);
    expect(viaHttp.tokens!.map((t) => t.token)).toEqual(direct.tokens!.map((t) => t.token));
    const chatOnly = new OpenAITeacher({ baseURL: server.url, model: 'stories260K', apiKey: KEY, api: 'chat' });
    expect((await chatOnly.complete({ prompt: 'Tell me about a dog.', maxTokens: 8 })).text).toBe(direct.text);
  });

  it('forwards stop sequences, temperature and seed', async () => {
    const stopped = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 30, stop: ['Lily'] });
    expect(stopped).toMatchObject({ text: ', there was a little girl named ', finishReason: 'stop' });
    const a = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 12, temperature: 1, seed: 11 });
    const b = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 12, temperature: 1, seed: 11 });
    expect(a.text).toBe(b.text);
  });

  it('yields sparse top-k targets for a student sharing the tokenizer, equal to the white-box ones', async () => {
    const completion = await teacher.complete({ prompt: 'Once upon a time', maxTokens: 6, topLogprobs: 4 });
    // Vocabulary as token text after a word (SentencePiece "▁x" pieces read " x"); pieces win over
    // the byte-fallback tokens (<0x2C> also reads ",") that have lower ids.
    const vocab = new Map<string, number>();
    const words = llama.tokenize('Once', { bos: false });
    for (let id = llama.vocabSize - 1; id >= 3; id--) {
      const text = llama.detokenize([...words, id]).slice(llama.detokenize(words).length);
      if (!vocab.has(text)) vocab.set(text, id);
    }
    const { targets, tokenIds } = topKTargetsFromCompletion(completion, { k: 4, tokenId: (t) => vocab.get(t) });
    expect(targets.indices.shape).toEqual([6, 4]);
    const prompt = llama.tokenize('Once upon a time');
    const white = await llama.topK([[...prompt, ...Array.from(tokenIds).slice(0, 5)]], 4);
    const rowsFrom = prompt.length - 1;
    for (let r = 0; r < 6; r++) {
      for (let j = 0; j < 4; j++) {
        expect(targets.indices.data[r * 4 + j]).toBe(white.indices.data[(rowsFrom + r) * 4 + j]);
        // Batched (teacher-forced) and incremental evaluation differ in float rounding only.
        expect(Math.abs(Math.exp(targets.logprobs.data[r * 4 + j]!) - Math.exp(white.logprobs.data[(rowsFrom + r) * 4 + j]!))).toBeLessThan(
          1e-4,
        );
      }
      expect(targets.tailMass!.data[r]).toBeCloseTo(white.tailMass!.data[rowsFrom + r]!, 3);
    }
  });

  it('a wrong key is fatal: 401 ends a collection with E_BAD_CONFIG, and the key is in no message or file', async () => {
    const wrongKey = 'sk-wrong-key-SECRET-9876543210';
    const bad = new OpenAITeacher({ baseURL: server.url, model: 'stories260K', apiKey: wrongKey });
    const error = (await bad.complete({ prompt: 'x', maxTokens: 2 }).catch((e: unknown) => e)) as TeacherRequestError;
    expect(error).toMatchObject({ kind: 'http', status: 401, fatal: true, retryable: false });
    const dir = await tempDir();
    const output = join(dir, 'o.jsonl');
    const failure = await collect({ teacher: bad, items: [{ id: 'a', request: { prompt: 'x', maxTokens: 2 } }], output }).catch(
      (e: unknown) => e,
    );
    expect(isDistilleryError(failure, 'E_BAD_CONFIG')).toBe(true);
    for (const text of [error.message, (failure as Error).message, JSON.stringify(failure), await readFile(output, 'utf8')]) {
      expect(text).not.toContain(wrongKey);
      expect(text).not.toContain(KEY);
    }
  });
});
