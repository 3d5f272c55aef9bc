export {
  LlamaTokenizer,
  LLAMA_TOKEN_TYPE,
  readLlamaVocabulary,
  type LlamaVocabulary,
  type SpecialRole,
  type ModelNames,
  type EncodeOptions,
  type DecodeOptions,
  type DetokenizeOptions,
} from './tokenizer/index.js';
export {
  GGUF_VALUE_TYPE,
  GGML_TYPE,
  GGML_BLOCK,
  ggmlTypeName,
  ggmlTypeId,
  type GgufValueType,
  type GgmlType,
  type GgmlTypeName,
} from './types.js';
export {
  parseGguf,
  getTensorInfo,
  tensorBytes,
  requireMetadata,
  type GgufFile,
  type GgufTensorInfo,
  type GgufMetadataEntry,
  type GgufValue,
  type ParseOptions,
} from './read.js';
export { dequantize, dequantizeBytes, halfToFloat, dequantizableTypes, registerDequantizer } from './dequantize.js';
export { floatToHalf, floatToBf16 } from './half.js';
export { quantize, encodableTypes, type QuantizeOptions } from './quantize.js';
export { writeGguf, ggufSpecOf, ggufValue, type GgufWriteSpec, type GgufTensorSpec, type GgufMetadataInput } from './write.js';
