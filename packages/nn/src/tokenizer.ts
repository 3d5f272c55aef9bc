import { badValue, DistilleryError } from '@distillery/core';

export type TokenizerConfig = { kind: 'byte' } | { kind: 'char'; chars: string[] };

/** Text ↔ token ids for the language model; the config travels in the model's checkpoint. */
export interface Tokenizer {
  readonly kind: TokenizerConfig['kind'];
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerConfig;
}

/** UTF-8 bytes: vocabulary 256, every string encodes, nothing is unknown. */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte';
  readonly vocabSize = 256;

  encode(text: string): Int32Array {
    return Int32Array.from(new TextEncoder().encode(text));
  }

  /** Invalid UTF-8 (a sampled byte sequence can be) decodes to U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    const bytes = Uint8Array.from(ids, (id, i) => {
      if (!(Number.isInteger(id) && id >= 0 && id < 256)) throw badValue(`ids[${i}]`, id, 'a byte in [0, 255]');
      return id;
    });
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }

  toJSON(): TokenizerConfig {
    return { kind: 'byte' };
  }
}

/** One token per Unicode code point seen in a corpus; id 0 is the unknown character. */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char';
  static readonly UNKNOWN = '\uFFFD';
  readonly #chars: string[];
  readonly #ids: Map<string, number>;

  constructor(chars: readonly string[]) {
    if (chars[0] !== CharTokenizer.UNKNOWN)
      throw badValue('chars[0]', chars[0], `the unknown character ${JSON.stringify(CharTokenizer.UNKNOWN)}`);
    this.#chars = [...chars];
    this.#ids = new Map(this.#chars.map((c, i) => [c, i]));
    if (this.#ids.size !== this.#chars.length)
      throw new DistilleryError('E_BAD_CONFIG', 'char tokenizer vocabulary has duplicates', { field: 'chars' });
  }

  /** The vocabulary of `corpus`: its distinct code points in code-point order, after the unknown character. */
  static fromText(corpus: string): CharTokenizer {
    const set = new Set(Array.from(corpus));
    set.delete(CharTokenizer.UNKNOWN);
    return new CharTokenizer([CharTokenizer.UNKNOWN, ...[...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)]);
  }

  get vocabSize(): number {
    return this.#chars.length;
  }

  encode(text: string): Int32Array {
    return Int32Array.from(Array.from(text), (c) => this.#ids.get(c) ?? 0);
  }

  decode(ids: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.#chars[ids[i]!];
      if (c === undefined) throw badValue(`ids[${i}]`, ids[i], `a token id in [0, ${this.#chars.length - 1}]`);
      out += c;
    }
    return out;
  }

  toJSON(): TokenizerConfig {
    return { kind: 'char', chars: [...this.#chars] };
  }
}

export function tokenizerFromConfig(config: TokenizerConfig): Tokenizer {
  if (config.kind === 'byte') return new ByteTokenizer();
  if (config.kind === 'char' && Array.isArray(config.chars)) return new CharTokenizer(config.chars);
  throw new DistilleryError('E_BAD_CONFIG', `unknown tokenizer ${JSON.stringify(config)}`, { field: 'tokenizer', value: config });
}
