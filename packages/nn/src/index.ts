export type { Activation } from './kernels/activation-math.js';
export {
  matmul,
  matmulDims,
  matmulProgram,
  recordMatmul,
  type DropoutSpec,
  type MatmulDims,
  type MatmulOptions,
  type MatmulTile,
} from './kernels/matmul/matmul.js';
export { matmulWgsl, type MatmulVariant } from './kernels/matmul/matmul.wgsl.js';
export { matmulReference, type MatmulReferenceOptions } from './kernels/matmul/reference.js';
export { tiledMatmulKernel, type MatmulTileConfig, type TiledMatmulVariant } from './kernels/matmul/tiled.wgsl.js';
export {
  MATMUL_TILE_CANDIDATES,
  defaultTileConfig,
  setMatmulTile,
  tiledConfigFor,
  tuneMatmul,
  chooseMatmulTile,
  isRegisterTileChoice,
  matmulCandidates,
  matmulTileOption,
  VEC4_REGISTER_TILE,
  type MatmulCandidate,
  type MatmulChoice,
  type MatmulTuning,
  type RegisterTile,
  type RegisterTileChoice,
} from './kernels/matmul/tuning.js';
export {
  activate,
  activationBackward,
  activationProgram,
  recordActivation,
  recordActivationBackward,
} from './kernels/activation/activation.js';
export { activationBackwardReference, activationReference } from './kernels/activation/reference.js';
export { biasGrad, biasGradProgram, biasGradReference, recordBiasGrad } from './kernels/bias-grad/bias-grad.js';
export { jitter, jitterProgram, jitterReference, recordJitter, type JitterSpec } from './kernels/jitter/jitter.js';
export { add, addProgram, recordAdd, recordAddInPlace } from './kernels/add/add.js';
export {
  createGradNormBuffers,
  gradNorm,
  gradNormReference,
  readGradNorm,
  recordGradNorm,
  type GradNormBuffers,
  type GradNormResult,
} from './kernels/grad-norm/grad-norm.js';
export { GpuOptimizer, type GpuOptimizerOptions } from './optim/base.js';
export { Sgd, sgdConfigSchema, sgdProgram, sgdReference, type SgdConfig } from './optim/sgd.js';
export { AdamW, adamwConfigSchema, adamwProgram, adamwReference, type AdamWConfig } from './optim/adamw.js';
export { ParameterSet, type Init } from './models/parameters.js';
export { MLP_KIND, MlpClassifier, mlpConfigSchema, type MlpBatch, type MlpConfig, type MlpSettings } from './models/mlp.js';
export {
  TRANSFORMER_KIND,
  TransformerLm,
  transformerConfigSchema,
  type LmBatch,
  type TransformerConfig,
  type TransformerSettings,
} from './models/transformer.js';
export { ByteTokenizer, CharTokenizer, tokenizerFromConfig, type Tokenizer, type TokenizerConfig } from './tokenizer.js';
export {
  embedding,
  embeddingBackward,
  embeddingBackwardReference,
  embeddingProgram,
  embeddingReference,
  recordEmbedding,
  recordEmbeddingBackward,
  recordPositionGrad,
  type PositionalSpec,
} from './kernels/embedding/embedding.js';
export {
  layerNorm,
  layerNormBackward,
  layerNormProgram,
  recordLayerNorm,
  recordLayerNormBackward,
} from './kernels/layer-norm/layer-norm.js';
export { layerNormBackwardReference, layerNormReference } from './kernels/layer-norm/reference.js';
export {
  recordSoftmax,
  recordSoftmaxBackward,
  softmax,
  softmaxBackward,
  softmaxBackwardReference,
  softmaxProgram,
  softmaxReference,
  type SoftmaxOptions,
} from './kernels/softmax/softmax.js';
export { headsProgram, mergeHeads, recordMergeHeads, recordSplitHeads, splitHeads, type HeadsShape } from './kernels/heads/heads.js';
export {
  attention,
  attentionBackward,
  attentionReference,
  recordAttention,
  recordAttentionBackward,
  releaseAttention,
  type AttentionSaved,
} from './kernels/attention/attention.js';
export { asTeacher, evalModeTargets } from './teacher.js';
export { argmaxRow, crossEntropyRow, logSumExpRow } from './logits.js';
export { dropoutKeep, hash32, normalAt, streamKey, uniformAt } from './random.js';
export { recordRmsNorm, recordRmsNormBackward, rmsNorm, rmsNormBackward } from './kernels/rms-norm/rms-norm.js';
export { rmsNormKernel, type RmsNormVariant } from './kernels/rms-norm/rms-norm.wgsl.js';
export { rmsNormBackwardReference, rmsNormReference } from './kernels/rms-norm/reference.js';
export { recordSwiglu, recordSwigluBackward, swiglu, swigluBackward } from './kernels/swiglu/swiglu.js';
export { swigluKernel, type SwigluVariant } from './kernels/swiglu/swiglu.wgsl.js';
export { swigluBackwardReference, swigluReference } from './kernels/swiglu/reference.js';
export { recordRope, rope } from './kernels/rope/rope.js';
export { ropeKernel, type RopeVariant } from './kernels/rope/rope.wgsl.js';
export { ropePair, ropeReference, type RopeLayout, type RopeOptions, type RopeShape } from './kernels/rope/reference.js';
export {
  GQA_MAX_HEAD_DIM,
  gqaAttention,
  gqaAttentionBackward,
  recordGqaAttention,
  recordGqaAttentionBackward,
  releaseGqaAttention,
  type GqaAttentionSaved,
} from './kernels/gqa-attention/gqa-attention.js';
export { gqaAttentionKernel, type GqaAttentionVariant } from './kernels/gqa-attention/gqa-attention.wgsl.js';
export { gqaAttentionBackwardReference, gqaAttentionReference, type GqaShape } from './kernels/gqa-attention/reference.js';
export {
  LLAMA_KIND,
  llamaConfigSchema,
  llamaParameterShapes,
  llamaStudentConfig,
  headDim as llamaHeadDim,
  type LlamaConfig,
  type LlamaSettings,
  type LlamaStudentSize,
} from './models/llama/config.js';
export { LlamaLm } from './models/llama/model.js';
export { llamaSettingsFromGguf, llamaWeightsFromGguf, type LlamaGgufOptions } from './models/llama/gguf-read.js';
export { llamaToGguf, type LlamaGgufType, type LlamaToGgufOptions } from './models/llama/gguf-write.js';
export { huggingFaceName, llamaToHuggingFace, unpermuteRotaryRows, type HuggingFaceLlama } from './models/llama/huggingface.js';
export {
  llamaReference,
  logSoftmax,
  type LlamaHostWeights,
  type LlamaReferenceOptions,
  type LlamaReferenceResult,
  type RopePairing,
} from './models/llama/reference.js';
export { pickToken, sampleTokens, type SamplingOptions, type WindowLm } from './sampling.js';
export { CHECKSUM_METADATA_KEY, crc32, decodeModelState, encodeModelState, MODEL_FORMAT, MODEL_METADATA_KEY } from './model-file.js';
