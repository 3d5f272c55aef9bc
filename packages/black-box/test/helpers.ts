import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlackBoxTeacher, Completion, CompletionRequest } from '@distillery/core';

const here = dirname(fileURLToPath(import.meta.url));
export const packageRoot = resolve(here, '..');
const repoRoot = resolve(packageRoot, '../..');
/** The tiny GGUF model: DISTILLERY_GGUF or <repo>/../shared/models/stories260K.gguf. */
export const modelPath = process.env.DISTILLERY_GGUF ?? resolve(repoRoot, '../shared/models/stories260K.gguf');
export const haveModel = existsSync(modelPath);
if (!haveModel) console.warn(`skipping llama.cpp tests: no model at ${modelPath} (set DISTILLERY_GGUF)`);

export function tempDir(prefix = 'distillery-bb-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** An in-process teacher: answers `answer:<prompt>` after `delayMs`, counting calls and concurrency. */
export class FakeTeacher implements BlackBoxTeacher {
  readonly kind = 'black-box' as const;
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly prompts: string[] = [];

  constructor(
    readonly name = 'fake',
    readonly delayMs = 0,
    readonly behave: (request: CompletionRequest, call: number) => Completion | Error | undefined = () => undefined,
  ) {}

  async complete(request: CompletionRequest, options: { signal?: AbortSignal } = {}): Promise<Completion> {
    const call = ++this.calls;
    this.prompts.push(request.prompt ?? '');
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, this.delayMs);
          options.signal?.addEventListener('abort', () => (clearTimeout(timer), reject(options.signal!.reason)), { once: true });
        });
      }
      const custom = this.behave(request, call);
      if (custom instanceof Error) throw custom;
      const text = `answer:${request.prompt ?? request.messages?.at(-1)?.content}`;
      return custom ?? { text, finishReason: 'stop', usage: { promptTokens: 10, completionTokens: 5 } };
    } finally {
      this.inFlight--;
    }
  }
}

export type Fault =
  | 'ok'
  /** Status with an optional Retry-After header value and body. */
  | { status: number; retryAfter?: string; retryAfterMs?: string; body?: string }
  /** Never answer (the client's timeout must fire). */
  | 'hang'
  /** Destroy the connection without a response. */
  | 'reset'
  /** 200 with a body that is not JSON. */
  | 'malformed'
  /** 200 with JSON of the wrong shape. */
  | 'wrong-shape'
  /** Forward, then send only half the body and drop the connection. */
  | 'truncated'
  /** 500 whose body echoes the request's Authorization header (tests redaction). */
  | 'echo-auth';

export interface FaultProxy {
  url: string;
  /** Faults injected so far, by kind. */
  injected: Record<string, number>;
  /** Requests forwarded to the upstream successfully. */
  forwarded: number;
  close(): Promise<void>;
}

function faultName(fault: Fault): string {
  return typeof fault === 'string' ? fault : `http-${fault.status}`;
}

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of an OpenAI-compatible server. `plan(body,
 * attempt)` picks the fault for a request from its JSON body and the attempt number for that body.
 */
export async function startFaultProxy(
  upstream: string,
  plan: (body: Record<string, unknown>, attempt: number) => Fault,
): Promise<FaultProxy> {
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = { url: '', injected: {}, forwarded: 0, close: async () => undefined };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // forwarded as is
      }
      const key = JSON.stringify(body.prompt ?? body.messages ?? raw);
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const fault = plan(body, attempt);
      if (fault !== 'ok') proxy.injected[faultName(fault)] = (proxy.injected[faultName(fault)] ?? 0) + 1;
      if (fault === 'hang') return; // the socket is destroyed on close()
      if (fault === 'reset') return void req.socket.destroy();
      if (fault === 'malformed') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"text": "par');
      if (fault === 'wrong-shape') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"object": "nothing"}');
      if (fault === 'echo-auth') {
        return void res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: `upstream failed; you sent authorization: ${req.headers.authorization}` } }));
      }
      if (typeof fault === 'object') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = fault.retryAfterMs;
        return void res
          .writeHead(fault.status, headers)
          .end(fault.body ?? JSON.stringify({ error: { message: `injected ${fault.status}` } }));
      }
      const upstreamResponse = await fetch(`${upstream}${req.url!.replace(/^\/v1/, '')}`, {
        method: req.method,
        headers: { 'content-type': 'application/json', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
        body: req.method === 'POST' ? raw : undefined,
      });
      const text = await upstreamResponse.text();
      const bytes = Buffer.from(text);
      res.writeHead(upstreamResponse.status, { 'content-type': 'application/json', 'content-length': bytes.length });
      if (fault === 'truncated') {
        res.write(bytes.subarray(0, bytes.length >> 1));
        setTimeout(() => req.socket.destroy(), 10);
        return;
      }
      proxy.forwarded++;
      res.end(bytes);
    })().catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
