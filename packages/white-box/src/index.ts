export type { TransferBatch } from './batch.js';
export { ShuffledBatches, uploadBatch, releaseBatch, checkClassificationData, type ClassificationData } from './data.js';
export { evaluateClassifier, deviceOf, type ClassifierMetrics } from './evaluate.js';
export { WhiteBoxDistiller, type WhiteBoxDistillerOptions } from './distiller.js';
export { ModelTeacher } from './teachers/model-teacher.js';
export { EnsembleTeacher, type EnsembleOptions } from './teachers/ensemble-teacher.js';
export { CachedTeacher } from './teachers/cached-teacher.js';
export { mixtureLogits, mixtureLogitsReference, mixtureProgram } from './kernels/mixture/mixture.js';
export { CACHE_FORMAT, rowBytes, topKFromLogits, encodeRows, decodeRowInto, type CacheIndex, type CacheShard, type CachedRows } from './cache/format.js';
