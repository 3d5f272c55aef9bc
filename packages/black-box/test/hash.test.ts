import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { requestKey } from '../src/index.js';
import { sha256Hex } from '../src/hash.js';

describe('sha256Hex (pure TypeScript, browser-safe)', () => {
  it("equals node:crypto's digest across padding boundaries and non-ASCII text", () => {
    const texts = ['', 'abc', 'é ✓ 漢字 😀', ...[55, 56, 63, 64, 65, 119, 120, 1000].map((n) => 'x'.repeat(n))];
    for (const text of texts) expect(sha256Hex(text), `length ${text.length}`).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('keeps the published test vector and therefore the cache keys already on disk', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(requestKey('m', { prompt: 'p' })).toBe(
      createHash('sha256')
        .update(JSON.stringify({ model: 'm', prompt: 'p', v: 1 }))
        .digest('hex'),
    );
  });
});
