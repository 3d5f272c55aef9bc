import { createHash } from 'node:crypto';
import type { CompletionRequest } from '@distillery/core';

/** JSON with object keys sorted and `undefined` members dropped: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The part of a request that decides the answer: what was asked and how it is sampled. */
export function requestIdentity(model: string, request: CompletionRequest): Record<string, unknown> {
  return {
    v: 1,
    model,
    prompt: request.prompt,
    messages: request.messages?.map((m) => ({ role: m.role, content: m.content })),
    temperature: request.temperature,
    maxTokens: request.maxTokens,
    stop: request.stop ? [...request.stop] : undefined,
    topLogprobs: request.topLogprobs,
    seed: request.seed,
  };
}

/**
 * Content address of a request: sha256 over model + prompt (or messages) + sampling parameters.
 * The response cache and the collection records use it; it never includes credentials.
 */
export function requestKey(model: string, request: CompletionRequest): string {
  return sha256Hex(canonicalJson(requestIdentity(model, request)));
}

/** Address of just the input (prompt or messages), ignoring model and sampling: what a replay matches on. */
export function inputKey(request: Pick<CompletionRequest, 'prompt' | 'messages'>): string {
  return sha256Hex(canonicalJson({ prompt: request.prompt, messages: request.messages?.map((m) => ({ role: m.role, content: m.content })) }));
}
