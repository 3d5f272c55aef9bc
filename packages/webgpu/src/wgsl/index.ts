/**
 * The WGSL authoring kit (`@distillery/webgpu/wgsl`): one way to write a kernel.
 * See src/wgsl/README.md.
 */
export { defineKernel, type BindingValues, type Kernel, type KernelContext, type KernelSpec, type RecordArgs } from './kernel.js';
export {
  bindingsWgsl,
  declareBindings,
  orderBindings,
  type Bindable,
  type BindingDecl,
  type BindingTable,
  type DeclaredBinding,
} from './bindings.js';
export {
  packUniformTable,
  uniformStructWgsl,
  type ScalarType,
  type UniformField,
  type UniformTable,
  type UniformValues,
} from './uniforms.js';
export { hasSubgroups, workgroupReduce, type WorkgroupReduceOptions } from './reduce.js';
export { accDecls, elementType, enables, loadAcc, storeAcc, type FloatDType } from './acc.js';
export { stableKey, textHash, variantHash } from './hash.js';
export { wgsl } from '../wgsl.js';
