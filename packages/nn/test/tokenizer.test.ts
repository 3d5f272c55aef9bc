import { describe, expect, it } from 'vitest';
import { ByteTokenizer, CharTokenizer, tokenizerFromConfig } from '../src/tokenizer.js';

describe('tokenizers', () => {
  it('byte: UTF-8 round trip, vocabulary 256, invalid sequences decode to U+FFFD', () => {
    const t = new ByteTokenizer();
    const text = 'Grüße, 世界 🌍';
    const ids = t.encode(text);
    expect(ids.length).toBe(new TextEncoder().encode(text).length);
    expect(t.decode(ids)).toBe(text);
    expect(t.decode([0xff, 0x41])).toBe('\uFFFDA');
    expect(() => t.decode([256])).toThrowError(/ids\[0\] must be a byte/);
    expect(tokenizerFromConfig(t.toJSON())).toBeInstanceOf(ByteTokenizer);
  });

  it('char: vocabulary from a corpus, unknown characters to id 0, config round trip', () => {
    const t = CharTokenizer.fromText('hello world 🌍');
    expect(t.vocabSize).toBe(1 + new Set('helo wrd🌍').size);
    expect(t.decode(t.encode('hello 🌍'))).toBe('hello 🌍');
    expect(Array.from(t.encode('hex'))).toEqual([t.encode('h')[0], t.encode('e')[0], 0]);
    const again = tokenizerFromConfig(JSON.parse(JSON.stringify(t.toJSON())));
    expect(Array.from(again.encode('world'))).toEqual(Array.from(t.encode('world')));
    expect(() => t.decode([99])).toThrowError(expect.objectContaining({ code: 'E_BAD_VALUE' }));
    expect(() => tokenizerFromConfig({ kind: 'bpe' } as never)).toThrowError(expect.objectContaining({ code: 'E_BAD_CONFIG' }));
  });
});
