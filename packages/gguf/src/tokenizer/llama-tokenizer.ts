import { DistilleryError } from '@distillery/core';
import type { GgufFile } from '../read.js';
import { controlTextsFor, FORCED_USER_DEFINED_TEXTS } from './control-by-text.js';
import { mergeFragment, type MergeVocabulary } from './spm-merge.js';
import { isCSpace, stripRulesFor } from './strip-rules.js';
import { LLAMA_TOKEN_TYPE, readLlamaVocabulary, type LlamaVocabulary } from './vocabulary.js';

export interface EncodeOptions {
  /** Start with the BOS token. Default: the model's `add_bos_token` (true when the GGUF does not say). */
  addBos?: boolean;
  /** End with the EOS token. Default: the model's `add_eos_token` (false when the GGUF does not say). */
  addEos?: boolean;
  /**
   * Recognise control tokens (`<s>`, `</s>`, `<unk>`…) written in the text. Default false: they are plain text.
   * User-defined tokens are always recognised, as in llama.cpp.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Control and unknown tokens give no text (default true); false writes their piece text (`<s>`). */
  skipSpecial?: boolean;
}

/** llama.cpp's `llama_detokenize` flags, for callers that need its exact output. */
export interface DetokenizeOptions {
  /** Drop a leading BOS (when the model adds BOS) and a trailing EOS (when it adds EOS). Default false. */
  removeSpecial?: boolean;
  /** Write control and unknown tokens as their text. Default false. */
  unparseSpecial?: boolean;
}

const SPACE_ESCAPE = '\u2581';

/** How llama.cpp treats a token, from its type and (for some) its text. */
const KIND = {
  /** No text (unused, undefined types). */
  NONE: 0,
  NORMAL: 1,
  BYTE: 2,
  /** Control or unknown: text only when special tokens are parsed/unparsed. */
  CONTROL: 3,
  /** User-defined: always cut out of the text, always written as its text. */
  USER: 4,
} as const;

function kindOfType(type: number): number {
  switch (type) {
    case LLAMA_TOKEN_TYPE.NORMAL:
      return KIND.NORMAL;
    case LLAMA_TOKEN_TYPE.BYTE:
      return KIND.BYTE;
    case LLAMA_TOKEN_TYPE.CONTROL:
    case LLAMA_TOKEN_TYPE.UNKNOWN:
      return KIND.CONTROL;
    case LLAMA_TOKEN_TYPE.USER_DEFINED:
      return KIND.USER;
    default:
      return KIND.NONE;
  }
}
const utf8 = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function badValue(field: string, value: unknown, expected: string): DistilleryError {
  return new DistilleryError('E_BAD_VALUE', `${field} is ${JSON.stringify(value)}, expected ${expected}`, { field, value, expected });
}

/** A piece of input: raw text (a range of the input) or a special token found in it. */
type Fragment = { start: number; end: number } | { token: number };

/**
 * The llama SentencePiece-style tokenizer stored in a GGUF (`tokenizer.ggml.model = "llama"`), giving the ids
 * llama.cpp gives: spaces escaped to `▁`, a space put before the text (`add_space_prefix`), pairs merged by score,
 * byte fallback to `<0xNN>` tokens.
 */
export class LlamaTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly unknownTokenId: number | undefined;
  readonly paddingTokenId: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;

  readonly #texts: string[];
  readonly #scores: Float64Array;
  readonly #types: Int32Array;
  readonly #kinds: Uint8Array;
  /** Per token: 1 drops whitespace before it, 2 after it, when it is cut out of the text (llama.cpp's LSTRIP/RSTRIP). */
  readonly #strip: Uint8Array;
  readonly #idByText = new Map<string, number>();
  readonly #byteTokens = new Int32Array(256).fill(-1);
  /** Decoded bytes of each token, computed on first use. */
  readonly #pieces: (Uint8Array | undefined)[];
  /** Control, unknown and user-defined tokens, longest text first: the order llama.cpp splits them out of text. */
  readonly #specials: number[];
  readonly #merge: MergeVocabulary;

  /** Reads the tokenizer of a parsed GGUF (see {@link readLlamaVocabulary} for the keys and errors). */
  static fromGguf(file: GgufFile): LlamaTokenizer {
    const vocab = { ...readLlamaVocabulary(file) };
    // llama.cpp keeps its default for a special-token id outside the vocabulary (GGUFs write 0xFFFFFFFF for "none").
    for (const field of ['bosTokenId', 'eosTokenId', 'unknownTokenId', 'paddingTokenId'] as const) {
      const id = vocab[field];
      if (id !== undefined && id !== null && !(Number.isInteger(id) && id >= 0 && id < vocab.tokens.length)) delete vocab[field];
    }
    try {
      return new LlamaTokenizer(vocab);
    } catch (error) {
      // A vocabulary the constructor refuses (two tokens of one text) is a broken file: say which.
      if (!(error instanceof DistilleryError)) throw error;
      const toFileField = (text: string) => text.replace(/vocabulary\.tokens/, 'metadata["tokenizer.ggml.tokens"]');
      const message = toFileField(error.message.replace(/^E_BAD_VALUE: /, ''));
      throw new DistilleryError(
        'E_CORRUPT_FILE',
        `${file.source}: ${message}`,
        { ...error.details, file: file.source, field: toFileField(String(error.details.field)) },
        { cause: error },
      );
    }
  }

  /** Builds the tokenizer from plain arrays; bad arrays or ids are `E_BAD_VALUE` naming the field. */
  constructor(vocab: LlamaVocabulary) {
    const { tokens } = vocab;
    if (!Array.isArray(tokens) || tokens.length === 0)
      throw badValue('vocabulary.tokens', Array.isArray(tokens) ? '[]' : typeof tokens, 'a non-empty array of strings');
    const n = tokens.length;
    this.vocabSize = n;
    this.#texts = new Array<string>(n);
    this.#scores = new Float64Array(n);
    this.#types = new Int32Array(n).fill(LLAMA_TOKEN_TYPE.NORMAL);
    for (const [field, values] of [
      ['scores', vocab.scores],
      ['tokenTypes', vocab.tokenTypes],
    ] as const) {
      if (values !== undefined && values.length !== n) throw badValue(`vocabulary.${field}.length`, values.length, `${n} (one per token)`);
    }
    for (let id = 0; id < n; id++) {
      let text = tokens[id];
      if (typeof text !== 'string') throw badValue(`vocabulary.tokens[${id}]`, text, 'a string');
      // llama.cpp renames empty pieces so they can never match text.
      if (text === '') text = `[EMPTY_${id}]`;
      this.#texts[id] = text;
      // llama.cpp refuses a vocabulary with two tokens of one text (GGML_ASSERT on the map's size).
      const earlier = this.#idByText.get(text);
      if (earlier !== undefined)
        throw badValue(`vocabulary.tokens[${id}]`, text, `a piece text not already used (token ${earlier} has it)`);
      this.#idByText.set(text, id);
      if (vocab.scores) this.#scores[id] = Number(vocab.scores[id]);
      if (vocab.tokenTypes) this.#types[id] = Number(vocab.tokenTypes[id]);
    }
    const hex = '0123456789ABCDEF';
    for (let b = 0; b < 256; b++) {
      // `<0xNN>` first, then the byte itself as a one-character piece (llama.cpp's byte_to_token).
      const id =
        this.#idByText.get(`<0x${hex[b >> 4]}${hex[b & 15]}>`) ?? (b < 0x80 ? this.#idByText.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.#byteTokens[b] = id;
    }

    const specialId = (field: string, id: number | null | undefined, fallback: number | undefined): number | undefined => {
      if (id === undefined) return fallback !== undefined && fallback < n ? fallback : undefined;
      if (id === null) return undefined;
      if (!Number.isInteger(id) || id < 0 || id >= n) throw badValue(`vocabulary.${field}`, id, `an integer in [0, ${n})`);
      return id;
    };
    this.bosTokenId = specialId('bosTokenId', vocab.bosTokenId, 1);
    this.eosTokenId = specialId('eosTokenId', vocab.eosTokenId, 2);
    this.unknownTokenId = specialId('unknownTokenId', vocab.unknownTokenId, 0);
    this.paddingTokenId = specialId('paddingTokenId', vocab.paddingTokenId, undefined);
    this.addBos = vocab.addBos ?? true;
    this.addEos = vocab.addEos ?? false;
    this.addSpacePrefix = vocab.addSpacePrefix ?? true;

    this.#pieces = new Array<Uint8Array | undefined>(n);
    this.#kinds = new Uint8Array(n);
    const controlTexts = controlTextsFor(new Set(vocab.declaredSpecialRoles ?? []));
    for (let id = 0; id < n; id++) {
      const text = this.#texts[id]!;
      const kind = FORCED_USER_DEFINED_TEXTS.has(text) ? KIND.USER : controlTexts.has(text) ? KIND.CONTROL : kindOfType(this.#types[id]!);
      this.#kinds[id] = kind;
    }
    const bytesOf = (id: number) => utf8.encode(this.#texts[id]!).length;
    this.#specials = [];
    for (let id = 0; id < n; id++) if (this.#kinds[id] === KIND.CONTROL || this.#kinds[id] === KIND.USER) this.#specials.push(id);
    this.#specials.sort((a, b) => bytesOf(b) - bytesOf(a) || a - b);
    this.#strip = new Uint8Array(n);
    const rules = stripRulesFor(vocab.modelNames ?? {});
    if (rules.rstripAllSpecial) for (const id of this.#specials) this.#strip[id] = STRIP_AFTER;
    for (const [texts, set] of [
      [rules.rstrip, (id: number) => (this.#strip[id]! |= STRIP_AFTER)],
      [rules.notRstrip, (id: number) => (this.#strip[id]! &= ~STRIP_AFTER)],
      [rules.lstrip, (id: number) => (this.#strip[id]! |= STRIP_BEFORE)],
    ] as const) {
      // llama.cpp fails to load a model that lacks one of these tokens; a missing one has nothing to strip here.
      for (const text of texts) {
        const id = this.#idByText.get(text);
        if (id !== undefined) set(id);
      }
    }

    const unk = this.unknownTokenId;
    this.#merge = {
      idOf: (text) => this.#idByText.get(text),
      score: (id) => this.#scores[id]!,
      pushBytes: (piece, out) => {
        for (const byte of utf8.encode(piece)) {
          const id = this.#byteTokens[byte]!;
          if (id >= 0) out.push(id);
          else if (unk !== undefined) out.push(unk);
          else
            throw new DistilleryError(
              'E_BAD_VALUE',
              `text has the byte 0x${byte.toString(16)} (in ${JSON.stringify(piece)}), which has no byte token and the vocabulary has no unknown token`,
              { field: 'text', value: piece, expected: 'characters the vocabulary can encode' },
            );
        }
      },
    };
  }

  /** The piece text of a token (`▁` for spaces). */
  tokenText(id: number): string {
    return this.#texts[this.#checkId(id, 'id')]!;
  }

  /** The {@link LLAMA_TOKEN_TYPE} of a token. */
  tokenType(id: number): number {
    return this.#types[this.#checkId(id, 'id')]!;
  }

  /** The merge score of a token. */
  tokenScore(id: number): number {
    return this.#scores[this.#checkId(id, 'id')]!;
  }

  /** The id of an exact piece text, or undefined. */
  tokenId(text: string): number | undefined {
    return this.#idByText.get(text);
  }

  /** Token ids of `text`, exactly as llama.cpp's `llama_tokenize` gives them. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw badValue('text', typeof text, 'a string');
    const addBos = options.addBos ?? this.addBos;
    const addEos = options.addEos ?? this.addEos;
    const out: number[] = [];
    if (addBos) out.push(this.#required('bosTokenId', this.bosTokenId));
    // node-llama-cpp hands llama.cpp UTF-8, where a lone surrogate becomes U+FFFD.
    const input = text.replace(LONE_SURROGATE, '\uFFFD');
    let previousWasSpecial = true;
    for (const fragment of input === '' ? [] : this.#partition(input, options.parseSpecial ?? false)) {
      if ('token' in fragment) {
        out.push(fragment.token);
        previousWasSpecial = true;
        continue;
      }
      const raw = input.slice(fragment.start, fragment.end);
      const prefixed = this.addSpacePrefix && previousWasSpecial ? ` ${raw}` : raw;
      mergeFragment(prefixed.replaceAll(' ', SPACE_ESCAPE), this.#merge, out);
      previousWasSpecial = false;
    }
    if (addEos) out.push(this.#required('eosTokenId', this.eosTokenId));
    return out;
  }

  /**
   * Text of `ids`: `decode(encode(text)) === text`. A leading BOS is dropped and the space the tokenizer put before the
   * text is removed; equals node-llama-cpp's `detokenize(ids)` for ids that do not start with BOS, and
   * `detokenize(ids, true)` (which keeps BOS) with `skipSpecial: false`.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    this.#checkIds(ids);
    if (options.skipSpecial ?? true) {
      const startsWithBos = ids.length > 0 && this.bosTokenId !== undefined && ids[0] === this.bosTokenId;
      return this.#detokenize(ids, startsWithBos ? 1 : 0, {});
    }
    return this.#detokenize(ids, 0, { unparseSpecial: true });
  }

  /** llama.cpp's `llama_detokenize` (node-llama-cpp's `model.detokenize(ids, unparseSpecial)` uses `removeSpecial: false`). */
  detokenize(ids: ArrayLike<number>, options: DetokenizeOptions = {}): string {
    this.#checkIds(ids);
    return this.#detokenize(ids, 0, options);
  }

  /** llama_detokenize on `ids` from index `from` (ids already checked). */
  #detokenize(ids: ArrayLike<number>, from: number, options: DetokenizeOptions): string {
    let first = from;
    let end = ids.length;
    let removeSpace = this.addSpacePrefix;
    if (options.removeSpecial && this.addBos && end > first && ids[first] === this.bosTokenId) {
      // llama.cpp keeps the space after a removed BOS; `decode` is the round-trip helper.
      removeSpace = false;
      first++;
    }
    if (options.removeSpecial && this.addEos && end > first && ids[end - 1] === this.eosTokenId) end--;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = first; i < end; i++) {
      const id = ids[i]!;
      let piece = this.#kinds[id] === KIND.CONTROL && !options.unparseSpecial ? EMPTY : this.#piece(id);
      if (removeSpace && piece.length > 0 && piece[0] === 0x20) piece = piece.subarray(1);
      removeSpace = false;
      parts.push(piece);
      total += piece.length;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    // ignoreBOM: a U+FEFF that starts the text is text (llama.cpp keeps it too).
    return UTF8_DECODER.decode(bytes);
  }

  /** The bytes a token stands for (llama.cpp's token_to_piece with special tokens unparsed). */
  #piece(id: number): Uint8Array {
    let piece = this.#pieces[id];
    if (piece) return piece;
    const text = this.#texts[id]!;
    const kind = this.#kinds[id]!;
    if (kind === KIND.CONTROL || kind === KIND.USER) piece = utf8.encode(text);
    else if (kind === KIND.NORMAL) piece = utf8.encode(text.replaceAll(SPACE_ESCAPE, ' '));
    // strtol on the two hex digits of `<0xNN>`; garbage reads as 0 there too.
    else if (kind === KIND.BYTE) piece = Uint8Array.of(parseInt(text.slice(3, 5), 16) || 0);
    // Unused and undefined tokens have no text in llama.cpp.
    else piece = EMPTY;
    this.#pieces[id] = piece;
    return piece;
  }

  /** Splits special tokens out of the text, longest token first, as llama.cpp's tokenizer_st_partition. */
  #partition(text: string, parseSpecial: boolean): Fragment[] {
    let fragments: Fragment[] = [{ start: 0, end: text.length }];
    for (const id of this.#specials) {
      // Control and unknown tokens are plain text unless asked; user-defined ones are always split out.
      if (!parseSpecial && this.#kinds[id] === KIND.CONTROL) continue;
      const needle = this.#texts[id]!;
      const next: Fragment[] = [];
      for (const fragment of fragments) {
        if ('token' in fragment) {
          next.push(fragment);
          continue;
        }
        // Search inside the fragment only, so many fragments cost one pass over the text per special token.
        const part = fragment.start === 0 && fragment.end === text.length ? text : text.slice(fragment.start, fragment.end);
        const strip = this.#strip[id]!;
        let from = 0;
        for (let match = part.indexOf(needle); match >= 0; match = part.indexOf(needle, from)) {
          let leftEnd = match;
          if (strip & STRIP_BEFORE) while (leftEnd > from && isCSpace(part.charCodeAt(leftEnd - 1))) leftEnd--;
          if (leftEnd > from) next.push({ start: fragment.start + from, end: fragment.start + leftEnd });
          next.push({ token: id });
          from = match + needle.length;
          if (strip & STRIP_AFTER) while (from < part.length && isCSpace(part.charCodeAt(from))) from++;
        }
        if (from < part.length) next.push({ start: fragment.start + from, end: fragment.end });
      }
      fragments = next;
    }
    return fragments;
  }

  #checkIds(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.#checkId(ids[i]!, `ids[${i}]`);
  }

  #checkId(id: number, field: string): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw badValue(field, id, `a token id in [0, ${this.vocabSize})`);
    return id;
  }

  #required(field: string, id: number | undefined): number {
    if (id === undefined)
      throw new DistilleryError('E_BAD_VALUE', `the vocabulary has no ${field} to add`, { field, value: id, expected: 'a token id' });
    return id;
  }
}

const EMPTY = new Uint8Array(0);
const STRIP_BEFORE = 1;
const STRIP_AFTER = 2;
const UTF8_DECODER = new TextDecoder('utf-8', { ignoreBOM: true });
