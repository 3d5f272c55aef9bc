import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDistilleryError, type BlackBoxTeacher, type ChatMessage, type Completion, type CompletionRequest } from '@distillery/core';
import { isTeacherRequestError } from './errors.js';

export interface ServeOpenAIOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Model id reported by /v1/models and in responses (default: the teacher's name). */
  model?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** Artificial latency added to each completion (ms, or a function of the request). */
  delayMs?: number | ((request: CompletionRequest) => number);
}

export interface OpenAIServer {
  /** Base URL to give an OpenAI client, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  readonly port: number;
  /** Completion requests served so far (successful or not). */
  readonly requests: number;
  close(): Promise<void>;
}

const MAX_BODY = 16 << 20;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function openAIError(res: ServerResponse, status: number, message: string, type = 'invalid_request_error'): void {
  send(res, status, { error: { message, type, code: null } });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

type Json = Record<string, unknown>;

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stopOf(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return value as string[];
  return undefined;
}

/** Chat completion `logprobs.content` from our per-token form. */
function chatLogprobs(completion: Completion): unknown {
  if (!completion.tokens) return null;
  return {
    content: completion.tokens.map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: [...Buffer.from(t.token, 'utf8')],
      top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: [...Buffer.from(a.token, 'utf8')] })),
    })),
  };
}

/** Legacy /completions `logprobs` (parallel arrays). */
function legacyLogprobs(completion: Completion): unknown {
  if (!completion.tokens) return null;
  let offset = 0;
  const textOffset: number[] = [];
  for (const t of completion.tokens) {
    textOffset.push(offset);
    offset += t.token.length;
  }
  return {
    tokens: completion.tokens.map((t) => t.token),
    token_logprobs: completion.tokens.map((t) => t.logprob),
    top_logprobs: completion.tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))),
    text_offset: textOffset,
  };
}

/**
 * Serves a black-box teacher through the OpenAI-compatible routes `POST /v1/completions`,
 * `POST /v1/chat/completions` (non-streaming, with logprobs when the teacher gives token
 * log-probabilities) and `GET /v1/models`, on 127.0.0.1 by default. Used to test HTTP clients against
 * a real local model (e.g. `@distillery/plugin-teacher-llama-cpp`) and to benchmark them.
 */
export async function serveOpenAI(teacher: BlackBoxTeacher, options: ServeOpenAIOptions = {}): Promise<OpenAIServer> {
  const model = options.model ?? teacher.name;
  let requests = 0;
  let counter = 0;
  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) openAIError(res, 500, `internal error: ${(error as Error).message}`, 'server_error');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return openAIError(res, 401, 'Incorrect API key provided.', 'invalid_api_key');
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      return send(res, 200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'distillery' }] });
    }
    const route = url.pathname === '/v1/chat/completions' ? 'chat' : url.pathname === '/v1/completions' ? 'completions' : undefined;
    if (req.method !== 'POST' || !route) return openAIError(res, 404, `no route ${req.method} ${url.pathname}`);
    requests++;
    let body: Json;
    try {
      body = JSON.parse(await readBody(req)) as Json;
      if (body === null || typeof body !== 'object') throw new Error('not an object');
    } catch (error) {
      return openAIError(res, 400, `body is not a JSON object: ${(error as Error).message}`);
    }
    if (body.stream === true) return openAIError(res, 400, 'stream: true is not supported by this server');
    const request: CompletionRequest = {
      temperature: numberOr(body.temperature),
      maxTokens: numberOr(body.max_tokens) ?? numberOr(body.max_completion_tokens),
      stop: stopOf(body.stop),
      seed: numberOr(body.seed),
    };
    if (route === 'chat') {
      if (!Array.isArray(body.messages)) return openAIError(res, 400, 'messages must be an array');
      request.messages = (body.messages as Json[]).map((m) => ({
        role: m.role as ChatMessage['role'],
        content: typeof m.content === 'string' ? m.content : '',
      }));
      if (body.logprobs === true) request.topLogprobs = numberOr(body.top_logprobs) ?? 0;
    } else {
      const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
      if (typeof prompt !== 'string') return openAIError(res, 400, 'prompt must be a string');
      request.prompt = prompt;
      const lp = numberOr(body.logprobs);
      if (lp !== undefined) request.topLogprobs = lp;
    }
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('client closed the connection'));
    });
    const delay = typeof options.delayMs === 'function' ? options.delayMs(request) : (options.delayMs ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (abort.signal.aborted) return;
    let completion: Completion;
    try {
      completion = await teacher.complete(request, { signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted) return;
      const status = isTeacherRequestError(error)
        ? (error.status ?? (error.retryable ? 503 : 400))
        : isDistilleryError(error) && error.code !== 'E_BAD_VALUE'
          ? 500
          : 400;
      return openAIError(res, status, (error as Error).message, status >= 500 ? 'server_error' : 'invalid_request_error');
    }
    const usage = completion.usage ?? { promptTokens: 0, completionTokens: 0 };
    const common = {
      id: `${route === 'chat' ? 'chatcmpl' : 'cmpl'}-${++counter}`,
      created: Math.floor(Date.now() / 1000),
      model,
      usage: {
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        total_tokens: usage.promptTokens + usage.completionTokens,
      },
    };
    const finish = completion.finishReason ?? 'stop';
    if (route === 'chat') {
      send(res, 200, {
        ...common,
        object: 'chat.completion',
        choices: [
          { index: 0, message: { role: 'assistant', content: completion.text }, finish_reason: finish, logprobs: chatLogprobs(completion) },
        ],
      });
    } else {
      send(res, 200, {
        ...common,
        object: 'text_completion',
        choices: [{ index: 0, text: completion.text, finish_reason: finish, logprobs: legacyLogprobs(completion) }],
      });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
