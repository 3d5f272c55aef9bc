import {
  badValue,
  DistilleryError,
  safeUrlText,
  type BlackBoxTeacher,
  type ChatMessage,
  type Completion,
  type CompletionRequest,
  type TokenLogprob,
} from '@distillery/core';
import { redact, safeUrl, TeacherRequestError } from './errors.js';
import { checkCompletionRequest } from './request-check.js';
import { abortedError, parseRetryAfter } from './retry.js';

export interface OpenAITeacherOptions {
  /** Base URL of the API including the version prefix, e.g. `http://127.0.0.1:8080/v1` or `https://api.openai.com/v1`. */
  baseURL: string;
  model: string;
  /**
   * The API key. Prefer `apiKeyEnv`: a key in a config file ends up in version control. The key is
   * kept in a private field, sent only as `Authorization: Bearer …`, and redacted from every error.
   */
  apiKey?: string;
  /** Environment variable holding the key (default `OPENAI_API_KEY`); unset is fine for local servers. */
  apiKeyEnv?: string;
  /** `auto` (default): `prompt` → /completions, `messages` → /chat/completions. `chat` sends a prompt as one user message. */
  api?: 'auto' | 'chat' | 'completions';
  /** Sampling defaults; a request's own fields win. */
  temperature?: number;
  maxTokens?: number;
  stop?: readonly string[];
  /** Ask for this many alternatives per token (logprobs) on every request. */
  topLogprobs?: number;
  seed?: number;
  /** Per-request timeout in ms (default 120 000). `collect` applies its own on top. */
  timeoutMs?: number;
  /** Extra headers (e.g. `OpenAI-Organization`). Never logged. */
  headers?: Record<string, string>;
  /** Name used in records and cache keys (default: the model). */
  name?: string;
  /** Replaces the global fetch (tests, proxies, custom dispatchers). */
  fetch?: typeof fetch;
  /** Environment to read `apiKeyEnv` from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);
/** Network failures no retry can fix: nothing listens there, the host does not exist, the port is refused by fetch. */
const PERMANENT_NETWORK = /ECONNREFUSED|ENOTFOUND|EAI_NONAME|bad port|ERR_INVALID_URL|ERR_INVALID_ARG/i;

/**
 * Refuses base URLs that can never work, without echoing them: not http(s), unparsable (bad port),
 * or carrying credentials (fetch refuses those; the key belongs in `apiKey`/`apiKeyEnv`).
 */
function checkBaseURL(baseURL: unknown): void {
  const shown = typeof baseURL === 'string' ? safeUrlText(baseURL) : baseURL;
  if (typeof baseURL !== 'string' || !/^https?:\/\//i.test(baseURL))
    throw badValue('baseURL', shown, 'an http(s) URL such as http://127.0.0.1:8080/v1');
  let parsed: URL;
  try {
    parsed = new URL(baseURL);
  } catch {
    throw badValue('baseURL', shown, 'a valid http(s) URL (host and a port in 1-65535)');
  }
  if (parsed.username || parsed.password)
    throw badValue('baseURL', shown, 'a URL without user:password@ (put the key in apiKey or apiKeyEnv)');
}

/** Appends an API path to the base URL's path, keeping its query string (Azure-style `?api-version=`) at the end. */
export function joinApiPath(baseURL: string, path: string): string {
  const url = new URL(baseURL);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`;
  return url.toString();
}
const FATAL_STATUS = new Set([401, 403, 404]);

/**
 * A black-box teacher behind any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp's server,
 * Ollama, hosted providers): `/completions` and `/chat/completions`, non-streaming, with token
 * log-probabilities when the server gives them. One attempt per call; failures are
 * `TeacherRequestError`s that say whether a retry may help (`collect` and `withRetry` retry).
 * Built on the runtime's `fetch` (undici in Node): no dependency, works in browsers too.
 */
export class OpenAITeacher implements BlackBoxTeacher {
  readonly kind = 'black-box' as const;
  readonly name: string;
  readonly model: string;
  readonly baseURL: string;
  readonly #apiKey: string | undefined;
  readonly #options: OpenAITeacherOptions;
  readonly #fetch: typeof fetch;

  constructor(options: OpenAITeacherOptions) {
    checkBaseURL(options.baseURL);
    if (typeof options.model !== 'string' || options.model === '') throw badValue('model', options.model, 'a non-empty model name');
    this.#options = { ...options, apiKey: undefined };
    this.baseURL = options.baseURL.replace(/\/+(?=$|[?#])/, '');
    this.model = options.model;
    this.name = options.name ?? options.model;
    const env = options.env ?? (typeof process === 'undefined' ? {} : process.env);
    this.#apiKey = options.apiKey ?? env[options.apiKeyEnv ?? 'OPENAI_API_KEY'] ?? undefined;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Whether a key was found (the key itself is never exposed). */
  get hasApiKey(): boolean {
    return Boolean(this.#apiKey);
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, model: this.model, baseURL: safeUrl(this.baseURL) };
  }

  #secrets(): (string | undefined)[] {
    return [this.#apiKey, ...Object.values(this.#options.headers ?? {})];
  }

  #error(init: ConstructorParameters<typeof TeacherRequestError>[0]): TeacherRequestError {
    return new TeacherRequestError({ ...init, message: redact(init.message, this.#secrets()), cause: undefined });
  }

  /** A server may echo the key back inside an answer: records never hold it either. */
  #redactCompletion(completion: Completion): Completion {
    const secrets = this.#secrets();
    const text = redact(completion.text, secrets);
    const tokens = completion.tokens?.map((t) => ({
      ...t,
      token: redact(t.token, secrets),
      top: t.top.map((o) => ({ ...o, token: redact(o.token, secrets) })),
    }));
    return { ...completion, text, ...(tokens ? { tokens } : {}) };
  }

  #route(request: CompletionRequest): 'chat' | 'completions' {
    const api = this.#options.api ?? 'auto';
    checkCompletionRequest(request as CompletionRequest & Record<string, unknown>, 'request');
    if (request.messages !== undefined && api === 'completions')
      throw badValue('request.messages', 'messages', 'a prompt: this teacher uses the /completions API');
    if (api === 'chat' || request.messages !== undefined) return 'chat';
    return 'completions';
  }

  #body(route: 'chat' | 'completions', request: CompletionRequest): Record<string, unknown> {
    const o = this.#options;
    const temperature = request.temperature ?? o.temperature;
    const maxTokens = request.maxTokens ?? o.maxTokens;
    const stop = request.stop ?? o.stop;
    const top = request.topLogprobs ?? o.topLogprobs;
    const seed = request.seed ?? o.seed;
    const body: Record<string, unknown> = { model: this.model, stream: false, n: 1 };
    if (temperature !== undefined) body.temperature = temperature;
    if (maxTokens !== undefined) body.max_tokens = maxTokens;
    if (stop !== undefined && stop.length > 0) body.stop = [...stop];
    if (seed !== undefined) body.seed = seed;
    if (route === 'chat') {
      const messages: readonly ChatMessage[] = request.messages ?? [{ role: 'user', content: request.prompt! }];
      body.messages = messages.map((m) => ({ role: m.role, content: m.content }));
      if (top !== undefined) {
        body.logprobs = true;
        body.top_logprobs = top;
      }
    } else {
      body.prompt = request.prompt;
      if (top !== undefined) body.logprobs = top;
    }
    return body;
  }

  /**
   * An authenticated request to another route of the same API (`files`, `batches/…`): the key and
   * headers are added here and never leave the client. Errors are `TeacherRequestError`s without them.
   */
  async apiRequest(path: string, init: { method?: string; body?: BodyInit; json?: unknown; signal?: AbortSignal } = {}): Promise<Response> {
    const url = joinApiPath(this.baseURL, path);
    const headers: Record<string, string> = { accept: 'application/json', ...this.#options.headers };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    const method = init.method ?? (init.body !== undefined || init.json !== undefined ? 'POST' : 'GET');
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
        signal: init.signal,
      });
    } catch (error) {
      if (init.signal?.aborted) throw abortedError(init.signal);
      throw this.#error({ kind: 'network', message: `${method} ${safeUrl(url)}: ${(error as Error).message}`, retryable: true });
    }
    if (!response.ok) {
      const text = await response.text();
      throw this.#error({
        kind: 'http',
        status: response.status,
        message: `${method} ${safeUrl(url)}: HTTP ${response.status}${text ? `: ${describeErrorBody(text)}` : ''}`,
        retryable: RETRYABLE_STATUS.has(response.status) || response.status >= 500,
        fatal: FATAL_STATUS.has(response.status),
        retryAfterMs: parseRetryAfter(response.headers),
      });
    }
    return response;
  }

  /** The API path (after the base URL) and JSON body `complete` would send: what a batch file line holds. */
  describeRequest(request: CompletionRequest): { route: 'chat' | 'completions'; path: string; body: Record<string, unknown> } {
    const route = this.#route(request);
    return { route, path: route === 'chat' ? 'chat/completions' : 'completions', body: this.#body(route, request) };
  }

  async complete(request: CompletionRequest, options: { signal?: AbortSignal } = {}): Promise<Completion> {
    const route = this.#route(request);
    const url = joinApiPath(this.baseURL, route === 'chat' ? 'chat/completions' : 'completions');
    const where = safeUrl(url);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...this.#options.headers };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    // One controller for both the timeout and the caller's signal (cheaper than AbortSignal.any/timeout per request).
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const outer = options.signal;
    const onAbort = () => controller.abort(outer!.reason);
    if (outer) {
      if (outer.aborted) onAbort();
      else outer.addEventListener('abort', onAbort, { once: true });
    }
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(this.#body(route, request)),
        signal: controller.signal,
      });
      text = await response.text();
    } catch (error) {
      if (outer?.aborted) {
        // The caller's own signal: propagate its reason (a collector timeout is a TeacherRequestError).
        if (outer.reason instanceof TeacherRequestError) throw outer.reason;
        throw abortedError(outer);
      }
      if (timedOut) throw this.#error({ kind: 'timeout', message: `POST ${where}: no answer within ${timeoutMs} ms`, retryable: true });
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const detail = [(error as Error).message, cause?.code ?? cause?.message].filter(Boolean).join(': ');
      // No server at that address, no such host, or a port fetch refuses: every request would fail the same way.
      const permanent = PERMANENT_NETWORK.test(`${cause?.code ?? ''} ${cause?.message ?? ''} ${(error as Error).message}`);
      throw this.#error({ kind: 'network', message: `POST ${where}: ${detail}`, retryable: !permanent, fatal: permanent });
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
    if (!response.ok) {
      const status = response.status;
      const snippet = describeErrorBody(text);
      const retryable = RETRYABLE_STATUS.has(status) || status >= 500;
      throw this.#error({
        kind: 'http',
        status,
        message: `POST ${where}: HTTP ${status}${snippet ? `: ${snippet}` : ''}`,
        retryable,
        fatal: FATAL_STATUS.has(status),
        retryAfterMs: parseRetryAfter(response.headers),
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.#error({
        kind: 'malformed',
        status: response.status,
        message: `POST ${where}: body is not JSON (${text.length} bytes${text.length ? `, starts ${JSON.stringify(text.slice(0, 40))}` : ''})`,
        retryable: true,
      });
    }
    const completion = parseCompletionResponse(json, route);
    if (!completion)
      throw this.#error({
        kind: 'malformed',
        status: response.status,
        message: `POST ${where}: JSON has no choices[0] with ${route === 'chat' ? 'message.content' : 'text'}`,
        retryable: true,
      });
    return this.#redactCompletion(completion);
  }
}

function describeErrorBody(text: string): string {
  if (!text) return '';
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200).replace(/\s+/g, ' ');
}

type Json = Record<string, unknown>;

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** OpenAI `logprobs.content` (chat, and llama.cpp's newer /completions) → our per-token form. */
function parseContentLogprobs(content: unknown): TokenLogprob[] | undefined {
  if (!Array.isArray(content)) return undefined;
  const out: TokenLogprob[] = [];
  for (const entry of content as Json[]) {
    const logprob = asNumber(entry?.logprob);
    if (typeof entry?.token !== 'string' || logprob === undefined) return undefined;
    const top = Array.isArray(entry.top_logprobs)
      ? (entry.top_logprobs as Json[])
          .filter((t) => typeof t?.token === 'string' && asNumber(t.logprob) !== undefined)
          .map((t) => ({ token: t.token as string, logprob: t.logprob as number }))
      : [];
    out.push({ token: entry.token, logprob, top });
  }
  return out;
}

/** Legacy completions logprobs: parallel arrays `tokens`, `token_logprobs`, `top_logprobs: [{tok: lp}]`. */
function parseLegacyLogprobs(logprobs: Json): TokenLogprob[] | undefined {
  const tokens = logprobs.tokens;
  const values = logprobs.token_logprobs;
  if (!Array.isArray(tokens) || !Array.isArray(values) || tokens.length !== values.length) return undefined;
  const tops = Array.isArray(logprobs.top_logprobs) ? (logprobs.top_logprobs as unknown[]) : [];
  const out: TokenLogprob[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const logprob = asNumber(values[i]);
    if (typeof token !== 'string' || logprob === undefined) return undefined;
    const map = tops[i];
    const top =
      map && typeof map === 'object'
        ? Object.entries(map as Json)
            .filter(([, v]) => asNumber(v) !== undefined)
            .map(([t, v]) => ({ token: t, logprob: v as number }))
            .sort((a, b) => b.logprob - a.logprob)
        : [];
    out.push({ token, logprob, top });
  }
  return out;
}

/** Reads the first choice of an OpenAI-style response; undefined when the shape is wrong. */
export function parseCompletionResponse(json: unknown, route: 'chat' | 'completions'): Completion | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const choices = (json as Json).choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const choice = choices[0] as Json;
  if (!choice || typeof choice !== 'object') return undefined;
  let text: unknown;
  if (route === 'chat') {
    const message = choice.message as Json | undefined;
    text = message?.content ?? (message && message.content === null ? '' : undefined);
  } else text = choice.text;
  if (typeof text !== 'string') return undefined;
  const completion: Completion = { text };
  if (typeof choice.finish_reason === 'string') completion.finishReason = choice.finish_reason;
  const logprobs = choice.logprobs as Json | null | undefined;
  if (logprobs && typeof logprobs === 'object') {
    const tokens = Array.isArray(logprobs.content) ? parseContentLogprobs(logprobs.content) : parseLegacyLogprobs(logprobs);
    if (tokens) completion.tokens = tokens;
  }
  const usage = (json as Json).usage as Json | undefined;
  const promptTokens = asNumber(usage?.prompt_tokens);
  const completionTokens = asNumber(usage?.completion_tokens);
  if (promptTokens !== undefined && completionTokens !== undefined) completion.usage = { promptTokens, completionTokens };
  return completion;
}

/** Throws E_BAD_CONFIG naming the variable when `apiKeyEnv` is required but unset. */
export function requireApiKeyEnv(name: string, env: Record<string, string | undefined> = process.env): void {
  if (!env[name])
    throw new DistilleryError('E_BAD_CONFIG', `environment variable ${name} (the teacher's API key) is not set`, {
      field: 'teacher.apiKeyEnv',
      value: name,
    });
}
