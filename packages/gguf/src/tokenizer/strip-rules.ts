/**
 * llama.cpp's per-model whitespace rules around special tokens (`llama_vocab::impl::load`, "set attributes by
 * model/tokenizer/architecture name"): when a special token is cut out of the text, whitespace right after an
 * rstrip token, or right before an lstrip token, is dropped. Only these models have such tokens.
 */

export interface StripRules {
  lstrip: ReadonlySet<string>;
  rstrip: ReadonlySet<string>;
  /** Whether every special token (control, unknown, user-defined) is rstrip before the exceptions in `notRstrip`. */
  rstripAllSpecial: boolean;
  notRstrip: ReadonlySet<string>;
}

/** The GGUF fields llama.cpp decides by. */
export interface ModelNames {
  /** `general.name` (compared lower-cased). */
  name?: string;
  /** `tokenizer.ggml.pre`. */
  tokenizerPre?: string;
  /** `general.architecture`. */
  architecture?: string;
}

const NONE: StripRules = { lstrip: new Set(), rstrip: new Set(), rstripAllSpecial: false, notRstrip: new Set() };
const containsAny = (text: string | undefined, parts: readonly string[]) => text !== undefined && parts.some((p) => text.includes(p));

export function stripRulesFor(names: ModelNames): StripRules {
  const name = names.name?.toLowerCase();
  if (
    containsAny(names.tokenizerPre, ['jina-v2-de', 'jina-v2-es', 'jina-v2-code']) ||
    containsAny(names.architecture, ['nomic-bert-moe', 'jina-bert-v3'])
  ) {
    return { ...NONE, lstrip: new Set(['<mask>']) };
  }
  if (containsAny(name, ['phi-3', 'phi3'])) {
    return { lstrip: new Set(), rstrip: new Set(['</s>']), rstripAllSpecial: true, notRstrip: new Set(['<unk>', '<s>', '<|endoftext|>']) };
  }
  if (containsAny(name, ['modern-bert'])) return { ...NONE, lstrip: new Set(['[MASK]']) };
  return NONE;
}

/** C's isspace in the "C" locale, which llama.cpp strips with. */
export function isCSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}
