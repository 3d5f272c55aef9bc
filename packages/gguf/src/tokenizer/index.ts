export { LlamaTokenizer, type EncodeOptions, type DecodeOptions, type DetokenizeOptions } from './llama-tokenizer.js';
export { LLAMA_TOKEN_TYPE, readLlamaVocabulary, type LlamaVocabulary } from './vocabulary.js';
