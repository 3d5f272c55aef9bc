import { kernelSnapshots } from '@distillery/webgpu/testing';
import { sgdKernel } from './sgd.wgsl.js';

kernelSnapshots(import.meta.dirname, sgdKernel, [
  { nesterov: false, workgroupSize: 256 },
  { nesterov: true, workgroupSize: 256 },
]);
