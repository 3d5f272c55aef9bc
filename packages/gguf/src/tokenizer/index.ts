export { LlamaTokenizer, type EncodeOptions, type DecodeOptions, type DetokenizeOptions } from './llama-tokenizer.js';
export { LLAMA_TOKEN_TYPE, readLlamaVocabulary, type LlamaVocabulary } from './vocabulary.js';
export { type SpecialRole } from './control-by-text.js';
export { type ModelNames } from './strip-rules.js';
