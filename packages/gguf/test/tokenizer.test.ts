// The tokenizer's rules on small hand-made vocabularies, its GGUF metadata defaults, and its typed errors.
// (Parity with llama.cpp on real text is in tokenizer-llama-cpp.test.ts.)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LLAMA_TOKEN_TYPE, LlamaTokenizer, parseGguf, type GgufFile, type LlamaVocabulary } from '../src/index.js';

const modelPath = fileURLToPath(new URL('../../../../shared/models/stories260K.gguf', import.meta.url));
const stories = () => parseGguf(readFileSync(modelPath), { source: 'stories260K.gguf' });
const withMetadata = (file: GgufFile, changes: Record<string, unknown>): GgufFile => {
  const metadata = { ...file.metadata, ...changes } as GgufFile['metadata'];
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete metadata[key];
  return { ...file, metadata };
};

const { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE } = LLAMA_TOKEN_TYPE;
const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** <unk> <s> </s>, 256 byte tokens, then the given pieces with their scores and types. */
function vocabulary(pieces: [text: string, score: number, type?: number][], extra: Partial<LlamaVocabulary> = {}): LlamaVocabulary {
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => hex(b)), ...pieces.map((p) => p[0])];
  const scores = [0, 0, 0, ...new Array<number>(256).fill(0), ...pieces.map((p) => p[1])];
  const tokenTypes = [UNKNOWN, CONTROL, CONTROL, ...new Array<number>(256).fill(BYTE), ...pieces.map((p) => p[2] ?? NORMAL)];
  return { tokens, scores, tokenTypes, ...extra };
}
const BASE = 259;
const texts = (t: LlamaTokenizer, ids: number[]) => ids.map((id) => t.tokenText(id));

describe('LlamaTokenizer rules', () => {
  it('merges the highest-scoring pair first, the leftmost on a tie, and re-offers the new neighbours', () => {
    const pieces: [string, number][] = [
      ['\u2581', 0],
      ['a', 0],
      ['b', 0],
      ['ab', -1],
      ['ba', -1],
      ['aba', -5],
      ['\u2581b', -3],
    ];
    const t = new LlamaTokenizer(vocabulary(pieces));
    // "▁aba": ab and ba tie at -1, the leftmost (ab) wins; then "ab"+"a" = "aba" merges.
    expect(texts(t, t.encode('aba', { addBos: false }))).toEqual(['\u2581', 'aba']);
    // "▁bab": ▁b (-3) loses to ba (-1); then ▁+ba and ba+b have no tokens.
    expect(texts(t, t.encode('bab', { addBos: false }))).toEqual(['\u2581', 'ba', 'b']);
    // With ba scored higher, "aba" splits the other way.
    const t2 = new LlamaTokenizer(
      vocabulary([
        ['\u2581', 0],
        ['a', 0],
        ['b', 0],
        ['ab', -2],
        ['ba', -1],
      ]),
    );
    expect(texts(t2, t2.encode('aba', { addBos: false }))).toEqual(['\u2581', 'a', 'ba']);
  });

  it('falls back to byte tokens, then to the unknown token when a byte has none', () => {
    const t = new LlamaTokenizer(
      vocabulary([
        ['\u2581', 0],
        ['a', 0],
      ]),
    );
    expect(t.encode('aé', { addBos: false })).toEqual([BASE, BASE + 1, 3 + 0xc3, 3 + 0xa9]);
    const noBytes = new LlamaTokenizer({
      tokens: ['<unk>', '<s>', '</s>', '\u2581', 'a'],
      tokenTypes: [UNKNOWN, CONTROL, CONTROL, NORMAL, NORMAL],
    });
    expect(noBytes.encode('a€a', { addBos: false })).toEqual([3, 4, 0, 0, 0, 4]);
    const noUnknown = new LlamaTokenizer({ tokens: ['\u2581', 'a'], unknownTokenId: null, bosTokenId: null });
    expect(() => noUnknown.encode('b', { addBos: false })).toThrow(
      expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'text' }) }),
    );
    expect(() => noUnknown.encode('a')).toThrow(
      expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'bosTokenId' }) }),
    );
  });

  it('puts the space before the text and after special tokens only when add_space_prefix says so', () => {
    const pieces: [string, number, number?][] = [
      ['\u2581', 0],
      ['a', 0],
      ['\u2581a', -1],
      ['<x>', 0, USER_DEFINED],
    ];
    const t = new LlamaTokenizer(vocabulary(pieces));
    const x = BASE + 3;
    // A user-defined token is split out of the text even without parseSpecial, and the text after it is prefixed.
    expect(t.encode('a<x>a', { addBos: false })).toEqual([BASE + 2, x, BASE + 2]);
    // Control tokens are text unless parseSpecial; parsed, they are ids and prefix what follows.
    expect(t.encode('<s>a', { addBos: false })).not.toContain(1);
    expect(t.encode('<s>a', { addBos: false, parseSpecial: true })).toEqual([1, BASE + 2]);
    const noPrefix = new LlamaTokenizer(vocabulary(pieces, { addSpacePrefix: false }));
    expect(noPrefix.encode('a<x>a', { addBos: false })).toEqual([BASE + 1, x, BASE + 1]);
    expect(noPrefix.decode(noPrefix.encode(' a'))).toBe(' a');
    expect(noPrefix.encode('a', { addEos: true })).toEqual([1, BASE + 1, 2]);
  });

  it('decodes pieces, bytes and special tokens, and drops only the space it added', () => {
    const t = new LlamaTokenizer(
      vocabulary([
        ['\u2581', 0],
        ['\u2581hi', 0],
        ['<x>', 0, USER_DEFINED],
      ]),
    );
    const ids = t.encode(' hi é <x>');
    expect(ids[0]).toBe(1);
    expect(t.decode(ids)).toBe(' hi é <x>');
    expect(t.decode(ids, { skipSpecial: false })).toBe('<s>  hi é <x>');
    expect(t.decode([2, 0])).toBe('');
    expect(t.detokenize([1, BASE + 1], { removeSpecial: true })).toBe(' hi');
    expect(t.detokenize([BASE + 1])).toBe('hi');
  });

  it('treats control-looking texts as control, as llama.cpp does, unless the vocabulary declares that role', () => {
    const pieces: [string, number, number?][] = [
      ['\u2581', 0],
      ['a', 0],
      ['<|im_end|>', 0],
      ['<PRE>', 0],
      ['<|channel|>', 0, CONTROL],
    ];
    const [imEnd, pre, channel] = [BASE + 2, BASE + 3, BASE + 4];
    const t = new LlamaTokenizer(vocabulary(pieces));
    expect(t.tokenType(imEnd)).toBe(NORMAL);
    // Control: text unless parseSpecial, and no text when decoded.
    expect(t.encode('a<|im_end|>', { addBos: false })).not.toContain(imEnd);
    expect(t.encode('a<|im_end|><PRE>', { addBos: false, parseSpecial: true })).toEqual([BASE, BASE + 1, imEnd, pre]);
    expect(t.decode([BASE + 1, imEnd, pre])).toBe('a');
    // gpt-oss's channel marker is user-defined whatever its type: split out and written always.
    expect(t.encode('a<|channel|>', { addBos: false })).toEqual([BASE, BASE + 1, channel]);
    expect(t.decode([channel])).toBe('<|channel|>');
    const declared = new LlamaTokenizer(vocabulary(pieces, { declaredSpecialRoles: ['fimPre'] }));
    expect(declared.encode('<PRE>', { addBos: false, parseSpecial: true })).not.toContain(pre);
    expect(declared.decode([pre])).toBe('<PRE>');
  });

  it('strips whitespace around special tokens as llama.cpp does for phi-3 and jina, and nothing for other models', () => {
    const pieces: [string, number, number?][] = [
      ['\u2581', 0],
      ['a', 0],
      ['b', 0],
      ['<|user|>', 0, USER_DEFINED],
      ['<mask>', 0, USER_DEFINED],
    ];
    const [user, mask] = [BASE + 3, BASE + 4];
    const plain = new LlamaTokenizer(vocabulary(pieces));
    const phi3 = new LlamaTokenizer(vocabulary(pieces, { modelNames: { name: 'Phi-3-mini-4k-instruct' } }));
    const jina = new LlamaTokenizer(vocabulary(pieces, { modelNames: { tokenizerPre: 'jina-v2-de' } }));
    const text = 'a \t<|user|>\n b</s>  a<mask>';
    const sp = BASE;
    // Every special token is rstrip for phi-3 (</s> too; <s>, <unk>, <|endoftext|> not).
    expect(phi3.encode(text, { addBos: false, parseSpecial: true })).toEqual([
      sp,
      BASE + 1,
      sp,
      3 + 9,
      user,
      sp,
      BASE + 2,
      2,
      sp,
      BASE + 1,
      mask,
    ]);
    expect(phi3.encode('<s> a', { addBos: false, parseSpecial: true })).toEqual([1, sp, sp, BASE + 1]);
    expect(plain.encode(text, { addBos: false, parseSpecial: true })).toEqual([
      sp,
      BASE + 1,
      sp,
      3 + 9,
      user,
      sp,
      3 + 10,
      sp,
      BASE + 2,
      2,
      sp,
      sp,
      sp,
      BASE + 1,
      mask,
    ]);
    // jina's <mask> drops the whitespace before it.
    expect(jina.encode('a  <mask>', { addBos: false })).toEqual([sp, BASE + 1, mask]);
    expect(plain.encode('a  <mask>', { addBos: false })).toEqual([sp, BASE + 1, sp, sp, mask]);
  });

  it('renames an empty piece as llama.cpp does, so it never matches text', () => {
    const t = new LlamaTokenizer({
      tokens: ['<unk>', '<s>', '</s>', '', '\u2581', 'a'],
      tokenTypes: [UNKNOWN, CONTROL, CONTROL, NORMAL, NORMAL, NORMAL],
    });
    expect(t.tokenText(3)).toBe('[EMPTY_3]');
    expect(t.encode('a', { addBos: false })).toEqual([4, 5]);
  });
});

describe('LlamaTokenizer.fromGguf', () => {
  it('reads stories260K: 512 tokens, BOS 1, EOS 2, UNK 0, no padding (0xFFFFFFFF), llama.cpp defaults for the flags', () => {
    const t = LlamaTokenizer.fromGguf(stories());
    expect(t.vocabSize).toBe(512);
    expect([t.bosTokenId, t.eosTokenId, t.unknownTokenId, t.paddingTokenId]).toEqual([1, 2, 0, undefined]);
    expect([t.addBos, t.addEos, t.addSpacePrefix]).toEqual([true, false, true]);
    expect(t.tokenType(3)).toBe(BYTE);
    expect(t.tokenScore(t.tokenId('he')!)).toBe(-1);
  });

  it("takes the flags and ids the file gives, and llama.cpp's defaults for ids outside the vocabulary", () => {
    const t = LlamaTokenizer.fromGguf(
      withMetadata(stories(), {
        'tokenizer.ggml.add_bos_token': false,
        'tokenizer.ggml.add_eos_token': true,
        'tokenizer.ggml.add_space_prefix': false,
        'tokenizer.ggml.eos_token_id': 7,
        'tokenizer.ggml.bos_token_id': 4294967295,
      }),
    );
    expect([t.addBos, t.addEos, t.addSpacePrefix, t.eosTokenId, t.bosTokenId]).toEqual([false, true, false, 7, 1]);
    expect(t.encode('a').at(-1)).toBe(7);
    const bare = LlamaTokenizer.fromGguf(
      withMetadata(stories(), { 'tokenizer.ggml.scores': undefined, 'tokenizer.ggml.token_type': undefined }),
    );
    expect(bare.tokenType(1)).toBe(NORMAL);
    expect(bare.tokenScore(300)).toBe(0);
  });

  it('refuses a tokenizer other than llama with E_UNSUPPORTED naming the file, field and value', () => {
    for (const model of ['gpt2', undefined]) {
      const file = withMetadata(stories(), { 'tokenizer.ggml.model': model });
      expect(() => LlamaTokenizer.fromGguf(file)).toThrow(
        expect.objectContaining({
          code: 'E_UNSUPPORTED',
          details: expect.objectContaining({ file: 'stories260K.gguf', field: 'metadata["tokenizer.ggml.model"]', value: model }),
        }),
      );
    }
    expect(() => LlamaTokenizer.fromGguf(withMetadata(stories(), { 'tokenizer.ggml.model': 'gpt2' }))).toThrow(/gpt2/);
  });

  it('a malformed vocabulary is E_CORRUPT_FILE naming the field', () => {
    const cases: [string, unknown][] = [
      ['tokenizer.ggml.tokens', undefined],
      ['tokenizer.ggml.tokens', [1, 2]],
      ['tokenizer.ggml.scores', [0.5]],
      ['tokenizer.ggml.token_type', 'x'],
      ['tokenizer.ggml.add_bos_token', 1],
    ];
    // Two tokens of one text (llama.cpp refuses the file too).
    const tokens = [...(stories().metadata['tokenizer.ggml.tokens'] as string[])];
    tokens[300] = tokens[299]!;
    cases.push(['tokenizer.ggml.tokens', tokens]);
    for (const [key, value] of cases) {
      expect(() => LlamaTokenizer.fromGguf(withMetadata(stories(), { [key]: value })), key).toThrow(
        expect.objectContaining({
          code: 'E_CORRUPT_FILE',
          details: expect.objectContaining({
            file: 'stories260K.gguf',
            field: expect.stringMatching(new RegExp(`^metadata\\["${key}"\\]`)),
          }),
        }),
      );
    }
  });
});

describe('LlamaTokenizer errors', () => {
  const t = LlamaTokenizer.fromGguf(stories());

  it('an id outside the vocabulary is E_BAD_VALUE naming its position and value', () => {
    for (const bad of [512, -1, 1.5, Number.NaN]) {
      expect(() => t.decode([1, 300, bad])).toThrow(
        expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'ids[2]', value: bad }) }),
      );
    }
    expect(() => t.tokenText(9999)).toThrow(
      expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'id', value: 9999 }) }),
    );
  });

  it('bad plain arrays are E_BAD_VALUE naming the field', () => {
    const expectField = (vocab: LlamaVocabulary, field: string) =>
      expect(() => new LlamaTokenizer(vocab), field).toThrow(
        expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field }) }),
      );
    expectField({ tokens: [] }, 'vocabulary.tokens');
    expectField({ tokens: ['a', 'b', 'c'], scores: [0] }, 'vocabulary.scores.length');
    expectField({ tokens: ['a', 3 as unknown as string] }, 'vocabulary.tokens[1]');
    expectField({ tokens: ['a', 'b', 'c'], bosTokenId: 3 }, 'vocabulary.bosTokenId');
    // llama.cpp refuses two tokens with one text.
    expectField({ tokens: ['a', 'b', 'a'] }, 'vocabulary.tokens[2]');
    expect(() => t.encode(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'E_BAD_VALUE', details: expect.objectContaining({ field: 'text' }) }),
    );
  });
});
