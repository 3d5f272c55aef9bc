export {
  acquireDevice,
  adapterSlug,
  assertDeviceAlive,
  getGpu,
  isCpuAdapter,
  isCpuDevice,
  isDeviceLost,
  NO_ADAPTER_HELP,
  summarizeAdapter,
} from './device.js';
export type { AcquiredDevice, AcquireOptions, AdapterIdentity, AdapterSummary } from './device.js';
export { BufferPool, bufferPool, sizeClass, type PoolStats } from './pool.js';
export {
  checkShape,
  createTensor,
  GpuTensor,
  paddedByteLength,
  readBuffer,
  readFloat32,
  readTensor,
  uploadTensor,
  zerosTensor,
  type TensorOptions,
} from './tensor.js';
export { getPipeline, pipelineCacheStats, type KernelProgram, type PipelineCacheStats } from './program.js';
export { CommandRecorder, dispatch, type DispatchSpec } from './recorder.js';
export { packUniforms, type UniformValue } from './uniforms.js';
export { checkBindingSize, linearGrid } from './grid.js';
export { wgsl } from './wgsl.js';
export { copyProgram, recordCopy } from './kernels/copy/copy.js';
export { scale, scaleProgram, scaleReference } from './kernels/scale/scale.js';
export { f16BitsToNumber, numberToF16Bits, numbersToF16Bits } from './f16.js';
export { defineKernel, hasSubgroups, stableKey, variantHash, workgroupReduce } from './wgsl/index.js';
export type { Bindable, BindingDecl, BindingTable, Kernel, KernelContext, KernelSpec, RecordArgs, UniformTable } from './wgsl/index.js';
export { gpuErrorChecks, setGpuErrorChecks, type GpuErrorChecks } from './gpu-errors.js';
