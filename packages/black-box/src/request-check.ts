/**
 * Shape checks for a completion request before it is sent: a request that mixes `prompt` and
 * `messages`, an empty conversation or a message without text would otherwise be sent as is (and
 * paid for) or have half of it dropped silently.
 */
import { DistilleryError, type CompletionRequest } from '@distillery/core';

const ROLES = new Set(['system', 'user', 'assistant', 'developer', 'tool']);

type Code = 'E_BAD_INPUT' | 'E_BAD_VALUE';

/**
 * Throws `code` (E_BAD_VALUE for a request object, E_BAD_INPUT for a line of a requests file) naming
 * the field (prefixed with `where`, e.g. `requests.jsonl:3`) unless the request has exactly one of a
 * string `prompt` or a non-empty `messages` array of `{ role, content: string }`.
 */
export function checkCompletionRequest(
  request: Partial<CompletionRequest> & Record<string, unknown>,
  where = 'request',
  extra: Record<string, unknown> = {},
  code: Code = 'E_BAD_VALUE',
): void {
  const bad = (field: string, message: string, value: unknown, expected: string, more: Record<string, unknown>): DistilleryError =>
    new DistilleryError(code, `${field} ${message}`, { field, value, expected, ...more });
  const { prompt, messages } = request;
  const at = (field: string) => (where ? `${where}.${field}` : field);
  if (prompt !== undefined && messages !== undefined)
    throw bad(
      at('messages'),
      'and prompt are both given; give exactly one (the other would be dropped)',
      'prompt and messages',
      'exactly one of prompt, messages',
      extra,
    );
  if (prompt === undefined && messages === undefined)
    throw bad(
      at('prompt'),
      'is missing: give exactly one of prompt, messages ("prompt": a string, "messages": an array of { role, content })',
      undefined,
      'a prompt or messages',
      extra,
    );
  if (prompt !== undefined && typeof prompt !== 'string')
    throw bad(at('prompt'), `must be a string, got ${JSON.stringify(prompt)}`, prompt, 'a string', extra);
  if (messages === undefined) return;
  if (!Array.isArray(messages))
    throw bad(
      at('messages'),
      `must be an array of { role, content }, got ${JSON.stringify(messages)}`,
      messages,
      'an array of { role, content }',
      extra,
    );
  if (messages.length === 0)
    throw bad(at('messages'), 'is empty: a conversation needs at least one message', messages, 'at least one message', extra);
  messages.forEach((message: unknown, i: number) => {
    const field = at(`messages[${i}]`);
    if (message === null || typeof message !== 'object' || Array.isArray(message))
      throw bad(field, `must be an object { role, content }, got ${JSON.stringify(message)}`, message, '{ role, content }', extra);
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !ROLES.has(role))
      throw bad(
        `${field}.role`,
        `must be one of ${[...ROLES].join(', ')}, got ${JSON.stringify(role)}`,
        role,
        [...ROLES].join(' | '),
        extra,
      );
    if (typeof content !== 'string')
      throw bad(`${field}.content`, `must be a string, got ${JSON.stringify(content)}`, content, 'a string', extra);
  });
}
