/**
 * Float64 references of every kernel (`@distillery/kernels/reference`): the same definitions and
 * conventions as the WGSL, written for clarity, with no GPU dependency. Use them as oracles for your
 * own plugins; `finiteDifferenceGradient` checks analytic gradients.
 */
export { logSoftmaxRow, softmaxReference, type SoftmaxReferenceOptions } from './kernels/softmax/softmax.reference.js';
export {
  finiteDifferenceGradient,
  jsdAtom,
  kdLossReference,
  negLogMix,
  type KdLossReferenceInputs,
  type KdLossReferenceOutput,
  type ReferenceDivergence,
  type ReferenceTeacher,
} from './kernels/kd-loss/kd-loss.reference.js';
export { crossEntropyReference, type CrossEntropyReferenceInputs } from './kernels/cross-entropy/cross-entropy.reference.js';
