import { DistilleryError } from '@distillery/core';
import type { GgufFile, GgufValue } from '../read.js';
import { SPECIAL_ROLE_KEYS, type SpecialRole } from './control-by-text.js';
import type { ModelNames } from './strip-rules.js';

/** Token types as GGUF stores them (`tokenizer.ggml.token_type`, llama.cpp's `llama_token_type`). */
export const LLAMA_TOKEN_TYPE = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** Everything the llama tokenizer reads from a GGUF, as plain values. */
export interface LlamaVocabulary {
  /** Piece text of every token, spaces written as `▁` (U+2581); byte tokens as `<0xNN>`. */
  tokens: readonly string[];
  /** Merge priority of each token (higher merges first). Default: all 0, as llama.cpp. */
  scores?: ArrayLike<number>;
  /** {@link LLAMA_TOKEN_TYPE} of each token. Default: all NORMAL, as llama.cpp. */
  tokenTypes?: ArrayLike<number>;
  /** Default 1 (llama.cpp's SentencePiece default); null: none. */
  bosTokenId?: number | null;
  /** Default 2. */
  eosTokenId?: number | null;
  /** Default 0. */
  unknownTokenId?: number | null;
  /** Default: none. */
  paddingTokenId?: number | null;
  /** Whether `encode` starts with BOS by default. Default true. */
  addBos?: boolean;
  /** Whether `encode` ends with EOS by default. Default false. */
  addEos?: boolean;
  /** Whether a space is put before text that starts the input or follows a special token. Default true. */
  addSpacePrefix?: boolean;
  /**
   * Roles whose token id the GGUF gives (`tokenizer.ggml.eot_token_id`, `fim_pre_token_id`…): llama.cpp then does
   * not look for that role's token by its text (see control-by-text.ts). Default: none.
   */
  declaredSpecialRoles?: readonly SpecialRole[];
  /**
   * `general.name`, `tokenizer.ggml.pre`, `general.architecture`: llama.cpp strips whitespace around some special
   * tokens of some models by these (phi-3: after special tokens; see strip-rules.ts).
   */
  modelNames?: ModelNames;
}

/** The GGUF keys read, with the {@link LlamaVocabulary} field each one fills. */
const KEYS = {
  tokens: 'tokenizer.ggml.tokens',
  scores: 'tokenizer.ggml.scores',
  tokenTypes: 'tokenizer.ggml.token_type',
  bosTokenId: 'tokenizer.ggml.bos_token_id',
  eosTokenId: 'tokenizer.ggml.eos_token_id',
  unknownTokenId: 'tokenizer.ggml.unknown_token_id',
  paddingTokenId: 'tokenizer.ggml.padding_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addEos: 'tokenizer.ggml.add_eos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
} as const;

export const TOKENIZER_MODEL_KEY = 'tokenizer.ggml.model';

function show(value: GgufValue | undefined): unknown {
  if (Array.isArray(value)) return `array of ${value.length}`;
  return typeof value === 'bigint' ? value.toString() : value;
}

function badField(file: GgufFile, key: string, value: GgufValue | undefined, expected: string): DistilleryError {
  const shown = show(value);
  return new DistilleryError(
    'E_CORRUPT_FILE',
    `${file.source}: metadata ${JSON.stringify(key)} is ${value === undefined ? 'missing' : typeof shown === 'string' ? shown : JSON.stringify(shown)}, expected ${expected}`,
    { file: file.source, field: `metadata["${key}"]`, value: shown, expected },
  );
}

function numberArray(file: GgufFile, key: string, length: number): number[] | undefined {
  const value = file.metadata[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number')) {
    throw badField(file, key, value, `an array of ${length} numbers (one per token)`);
  }
  return value as number[];
}

function optional<T extends 'number' | 'boolean'>(
  file: GgufFile,
  key: string,
  kind: T,
): (T extends 'number' ? number : boolean) | undefined {
  const value = file.metadata[key];
  if (value === undefined) return undefined;
  // u64 ids beyond 2^53 are bigints: out of any vocabulary, which llama.cpp treats as "none".
  if (kind === 'number' && typeof value === 'bigint') return Number.MAX_SAFE_INTEGER as never;
  if (typeof value !== kind) throw badField(file, key, value, `a ${kind}`);
  return value as never;
}

/**
 * Reads the llama tokenizer's metadata from a parsed GGUF. A `tokenizer.ggml.model` other than `llama` is
 * `E_UNSUPPORTED`; a missing or malformed vocabulary is `E_CORRUPT_FILE`; both name the file, field and value.
 */
export function readLlamaVocabulary(file: GgufFile): LlamaVocabulary {
  const model = file.metadata[TOKENIZER_MODEL_KEY];
  if (model !== 'llama') {
    const shown = show(model);
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `${file.source}: metadata ${JSON.stringify(TOKENIZER_MODEL_KEY)} is ${model === undefined ? 'missing' : JSON.stringify(shown)}; only the SentencePiece-style "llama" tokenizer is supported`,
      { file: file.source, field: `metadata["${TOKENIZER_MODEL_KEY}"]`, value: shown, expected: '"llama"' },
    );
  }
  const tokens = file.metadata[KEYS.tokens];
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => typeof t === 'string')) {
    throw badField(file, KEYS.tokens, tokens, 'a non-empty array of strings');
  }
  const vocab: LlamaVocabulary = { tokens: tokens as string[] };
  const assign = <K extends keyof LlamaVocabulary>(field: K, value: LlamaVocabulary[K] | undefined): void => {
    if (value !== undefined) vocab[field] = value;
  };
  assign('scores', numberArray(file, KEYS.scores, tokens.length));
  assign('tokenTypes', numberArray(file, KEYS.tokenTypes, tokens.length));
  assign('bosTokenId', optional(file, KEYS.bosTokenId, 'number'));
  assign('eosTokenId', optional(file, KEYS.eosTokenId, 'number'));
  assign('unknownTokenId', optional(file, KEYS.unknownTokenId, 'number'));
  assign('paddingTokenId', optional(file, KEYS.paddingTokenId, 'number'));
  assign('addBos', optional(file, KEYS.addBos, 'boolean'));
  assign('addEos', optional(file, KEYS.addEos, 'boolean'));
  assign('addSpacePrefix', optional(file, KEYS.addSpacePrefix, 'boolean'));
  const declared = (Object.keys(SPECIAL_ROLE_KEYS) as SpecialRole[]).filter((role) =>
    SPECIAL_ROLE_KEYS[role].some((key) => {
      const id = optional(file, key, 'number');
      return id !== undefined && Number.isInteger(id) && id >= 0 && id < tokens.length;
    }),
  );
  if (declared.length > 0) vocab.declaredSpecialRoles = declared;
  const modelNames: ModelNames = {};
  for (const [field, key] of [
    ['name', 'general.name'],
    ['tokenizerPre', 'tokenizer.ggml.pre'],
    ['architecture', 'general.architecture'],
  ] as const) {
    const value = file.metadata[key];
    if (typeof value === 'string') modelNames[field] = value;
  }
  vocab.modelNames = modelNames;
  return vocab;
}
