// The tokenizer against the independent reference: node-llama-cpp (llama.cpp) on stories260K's vocabulary, over
// every TinyStories story of the excerpt, tinyshakespeare and Botchan, and hand-written edge cases.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlamaTokenizer, parseGguf } from '../src/index.js';

const shared = fileURLToPath(new URL('../../../../shared/', import.meta.url));
const modelPath = shared + 'models/stories260K.gguf';
const readText = (name: string) => readFileSync(shared + 'data/text/' + name, 'utf8');

interface ReferenceModel {
  tokenize(text: string, specialTokens?: boolean): number[];
  detokenize(tokens: readonly number[], specialTokens?: boolean): string;
  dispose(): Promise<void>;
}

let reference: ReferenceModel;
let tokenizer: LlamaTokenizer;
let loadReference: (path: string) => Promise<ReferenceModel>;

beforeAll(async () => {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  loadReference = async (path) => (await llama.loadModel({ modelPath: path })) as unknown as ReferenceModel;
  reference = await loadReference(modelPath);
  tokenizer = LlamaTokenizer.fromGguf(parseGguf(readFileSync(modelPath), { source: modelPath }));
});

afterAll(async () => {
  await reference?.dispose();
});

/**
 * Same-size edits of a GGUF's metadata (nothing else moves), so llama.cpp can judge vocabularies stories260K does not
 * have: tied scores, other token types, control-looking token texts, declared special-token ids.
 */
class GgufPatch {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(original: Uint8Array) {
    this.bytes = new Uint8Array(original); // a copy: Buffer.slice would be a view
    this.#view = new DataView(this.bytes.buffer);
  }

  /** Offset just after `key` (matched with its u64 length prefix, so a key that prefixes another is not confused). */
  #afterKey(key: string): number {
    const keyBytes = new TextEncoder().encode(key);
    const needle = new Uint8Array(8 + keyBytes.length);
    new DataView(needle.buffer).setBigUint64(0, BigInt(keyBytes.length), true);
    needle.set(keyBytes, 8);
    const at = Buffer.from(this.bytes.buffer).indexOf(Buffer.from(needle.buffer));
    if (at < 0) throw new Error(`no metadata key ${key}`);
    return at + needle.length;
  }

  /** Rewrites every item of a fixed-width array (value type, item type, u64 count, items). */
  array(key: string, itemBytes: number, write: (view: DataView, offset: number, index: number) => void): this {
    const countAt = this.#afterKey(key) + 8;
    const count = Number(this.#view.getBigUint64(countAt, true));
    for (let i = 0; i < count; i++) write(this.#view, countAt + 8 + i * itemBytes, i);
    return this;
  }

  /** Replaces item `index` of a string array by a text of the same UTF-8 length. */
  arrayString(key: string, index: number, text: string): this {
    let at = this.#afterKey(key) + 16;
    for (let i = 0; i < index; i++) at += 8 + Number(this.#view.getBigUint64(at, true));
    const replacement = new TextEncoder().encode(text);
    if (Number(this.#view.getBigUint64(at, true)) !== replacement.length) throw new Error(`${text} is not as long as token ${index}`);
    this.bytes.set(replacement, at + 8);
    return this;
  }

  /** Renames a u32 entry to a key of the same length and sets its value. */
  renameU32(key: string, newKey: string, value: number): this {
    const after = this.#afterKey(key);
    this.bytes.set(new TextEncoder().encode(newKey), after - newKey.length);
    this.#view.setUint32(after + 4, value, true);
    return this;
  }
}

/** The stories of the excerpt, without the one cut off at the end of the file. */
function stories(): string[] {
  const parts = readText('tinystories-2MiB.txt').split('<|endoftext|>');
  return parts.slice(0, -1);
}

/**
 * Paragraphs (Botchan has no blank lines: its lines), plus fixed 2,000-character cuts that start and end anywhere
 * (mid-word, on spaces, mid-line).
 */
function chunks(text: string, by: 'paragraphs' | 'lines'): string[] {
  const cuts: string[] = [];
  for (let at = 0; at < text.length; at += 2000) cuts.push(text.slice(at, at + 2000));
  return [...text.split(by === 'lines' ? '\n' : /(?:\r?\n){2,}/), ...cuts];
}

interface Failures {
  /** Texts whose ids differ from llama.cpp's (node-llama-cpp's tokenize adds no BOS: compared with addBos false). */
  mismatching: { index: number; text: string; ours: number[]; theirs: number[] }[];
  /** Texts that do not decode back to themselves. */
  notRoundTripping: { index: number; text: string; decoded: string }[];
}

function check(texts: readonly string[], parseSpecial = false): Failures {
  const failures: Failures = { mismatching: [], notRoundTripping: [] };
  for (let index = 0; index < texts.length; index++) {
    const text = texts[index]!;
    const theirs = reference.tokenize(text, parseSpecial);
    const ours = tokenizer.encode(text, { addBos: false, parseSpecial });
    if (ours.length !== theirs.length || ours.some((id, i) => id !== theirs[i])) failures.mismatching.push({ index, text, ours, theirs });
    const decoded = tokenizer.decode(ours);
    if (decoded !== text) failures.notRoundTripping.push({ index, text, decoded });
  }
  return failures;
}

/** Both counts, plus the first offender of each kind, so a failure shows what went wrong. */
function summary(failures: Failures) {
  return {
    mismatching: failures.mismatching.length,
    notRoundTripping: failures.notRoundTripping.length,
    firstMismatch: failures.mismatching[0],
    firstRoundTripFailure: failures.notRoundTripping[0],
  };
}

const clean = { mismatching: 0, notRoundTripping: 0, firstMismatch: undefined, firstRoundTripFailure: undefined };

describe("LlamaTokenizer gives llama.cpp's ids on stories260K", () => {
  it('every story of the TinyStories excerpt: 0 mismatching texts, and each decodes back', () => {
    const texts = stories();
    expect(texts.length).toBe(2316);
    expect(summary(check(texts))).toEqual(clean);
  });

  it('tinyshakespeare and Botchan, as paragraphs, 2,000-character cuts and whole files: 0 mismatching texts', () => {
    for (const [name, by] of [
      ['tinyshakespeare.txt', 'paragraphs'],
      ['botchan.txt', 'lines'],
    ] as const) {
      const whole = readText(name);
      const texts = [...chunks(whole, by), whole];
      expect(texts.length, name).toBeGreaterThan(500);
      expect(summary(check(texts)), name).toEqual(clean);
    }
  });

  const edgeCases = [
    '',
    ' ',
    '   ',
    'a',
    ' leading space',
    'trailing space ',
    'multiple   spaces  between    words',
    '\n',
    'line one\nline two\n\nline four\n',
    '\ttab\tseparated\t',
    ' \t \n mixed \r\n whitespace',
    'emoji 😀👍🏽 and flags 🇯🇵',
    '日本語のテキスト、中文文本',
    'combining marks: e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937',
    '<s>literal BOS',
    'in the middle <s> and </s> and <unk>',
    '</s>',
    '<0x41> looks like a byte token',
    'lone surrogate \ud800 here',
    'ñ é ü ß',
    '\uFEFFa byte-order mark first',
    '\u2581 is the escaped space itself',
    '"Quotes", (brackets) [and] {braces}; punctuation!?',
    'Once upon a time, there was a little girl named Lily.',
  ];

  it('hand-written edge cases, with special tokens as text and parsed', () => {
    const asText = check(edgeCases, false);
    expect(asText.mismatching).toEqual([]);
    // A lone surrogate comes back as U+FFFD; a literal ▁ comes back as the space it stands for (as in llama.cpp).
    expect(asText.notRoundTripping.map((f) => f.decoded)).toEqual(['lone surrogate \uFFFD here', '  is the escaped space itself']);
    // Parsed special tokens do not round-trip by design (control tokens decode to nothing): only the ids are checked.
    expect(check(edgeCases, true).mismatching).toEqual([]);
    expect(tokenizer.decode(tokenizer.encode('a\u2581b'))).toBe('a b');
    // Parsed, the literal <s> is BOS and the text after it gets the leading space again.
    expect(tokenizer.encode('<s>hi', { addBos: false, parseSpecial: true })[0]).toBe(1);
    expect(tokenizer.encode('<s>hi', { addBos: false })).not.toContain(1);
  });

  it('encode adds BOS by default (the GGUF says nothing, llama.cpp defaults to BOS for llama vocabularies)', () => {
    expect(tokenizer.addBos).toBe(true);
    const text = 'Once upon a time';
    expect(tokenizer.encode(text)).toEqual([1, ...reference.tokenize(text)]);
    expect(tokenizer.encode('')).toEqual([1]);
  });

  it("detokenize equals node-llama-cpp's, with and without special tokens; decode drops a leading BOS", () => {
    const texts = [...stories().slice(0, 200), ...edgeCases.filter((t) => t !== '')];
    for (const text of texts) {
      const ids = reference.tokenize(text);
      expect(tokenizer.detokenize(ids)).toBe(reference.detokenize(ids));
      const withBos = [1, ...ids, 2];
      expect(tokenizer.detokenize(withBos)).toBe(reference.detokenize(withBos));
      expect(tokenizer.detokenize(withBos, { unparseSpecial: true })).toBe(reference.detokenize(withBos, true));
      expect(tokenizer.decode(withBos, { skipSpecial: false })).toBe(reference.detokenize(withBos, true));
      expect(tokenizer.decode(withBos)).toBe(reference.detokenize(ids));
    }
    // Every single token, special ones included.
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      expect(tokenizer.detokenize([id]), `id ${id}`).toBe(reference.detokenize([id]));
      expect(tokenizer.detokenize([id], { unparseSpecial: true }), `id ${id}`).toBe(reference.detokenize([id], true));
    }
  });

  it('on vocabularies llama.cpp reads from patched copies: tied or shuffled scores, user-defined and unused types, control-looking texts', async () => {
    const original = readFileSync(modelPath);
    const dir = mkdtempSync(join(tmpdir(), 'distillery-tokenizer-'));
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const shuffled = Array.from({ length: 512 }, () => Math.fround(-random() * 10));
    const he = tokenizer.tokenId('he')!;
    const eot = tokenizer.tokenId('\u2581pl')!;
    const pre = tokenizer.tokenId('\u2581wa')!;
    const variants: Record<string, Uint8Array> = {
      // Every merge ties: only llama.cpp's leftmost-pair rule decides.
      tied: new GgufPatch(original).array('tokenizer.ggml.scores', 4, (v, o) => v.setFloat32(o, 0, true)).bytes,
      shuffled: new GgufPatch(original).array('tokenizer.ggml.scores', 4, (v, o, i) => v.setFloat32(o, shuffled[i]!, true)).bytes,
      // "he" user-defined (split out of text even without parseSpecial, and a space prefix follows it);
      // "▁a" unused (no text when decoded).
      typed: new GgufPatch(original).array('tokenizer.ggml.token_type', 4, (v, o, i) => {
        if (i === he) v.setInt32(o, 4, true);
        if (i === tokenizer.tokenId('\u2581a')) v.setInt32(o, 5, true);
      }).bytes,
      // Normal tokens renamed to texts llama.cpp makes control: "<EOT>" (end of turn), "<PRE>" (FIM prefix)…
      controlLooking: new GgufPatch(original)
        .arrayString('tokenizer.ggml.tokens', eot, '<EOT>')
        .arrayString('tokenizer.ggml.tokens', pre, '<PRE>').bytes,
      // …unless the GGUF declares that role's id: then "<PRE>" stays normal (the padding key, renamed, declares it).
      declared: new GgufPatch(original)
        .arrayString('tokenizer.ggml.tokens', eot, '<EOT>')
        .arrayString('tokenizer.ggml.tokens', pre, '<PRE>')
        .renameU32('tokenizer.ggml.padding_token_id', 'tokenizer.ggml.fim_pre_token_id', pre).bytes,
    };
    const texts = [
      ...stories().slice(0, 150),
      'the theme of the hero',
      'he said, "he he"',
      'a cat and a hat',
      'a <EOT> b <PRE> c',
      '<EOT><PRE> play <PRE>',
    ];
    try {
      for (const [name, bytes] of Object.entries(variants)) {
        const path = join(dir, `${name}.gguf`);
        writeFileSync(path, bytes);
        const other = await loadReference(path);
        try {
          const ours = LlamaTokenizer.fromGguf(parseGguf(bytes, { source: path }));
          let mismatching = 0;
          let detokenizeMismatching = 0;
          for (const text of texts) {
            for (const parseSpecial of [false, true]) {
              const ids = ours.encode(text, { addBos: false, parseSpecial });
              const theirs = other.tokenize(text, parseSpecial);
              if (ids.length !== theirs.length || ids.some((id, i) => id !== theirs[i])) mismatching++;
              if (ours.detokenize(theirs, { unparseSpecial: parseSpecial }) !== other.detokenize(theirs, parseSpecial))
                detokenizeMismatching++;
            }
          }
          expect({ name, mismatching, detokenizeMismatching }).toEqual({ name, mismatching: 0, detokenizeMismatching: 0 });
          // The patches change the ids (else this would test nothing).
          expect(
            texts.some((t) => ours.encode(t, { parseSpecial: true }).join() !== tokenizer.encode(t, { parseSpecial: true }).join()),
            name,
          ).toBe(true);
          if (name !== 'tied' && name !== 'shuffled') {
            const marked = ours.encode('a <EOT> b <PRE> c', { addBos: false, parseSpecial: true });
            expect({ name, eot: marked.includes(eot), pre: marked.includes(pre) }).toEqual({
              name,
              eot: name !== 'typed',
              pre: name === 'controlLooking',
            });
          }
        } finally {
          await other.dispose();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
