import { kernelSnapshots } from '@distillery/webgpu/testing';
import { headsKernel } from './heads.wgsl.js';

// Behaviour (split/merge round trips, gradients) is tested through attention.
kernelSnapshots(import.meta.dirname, headsKernel, [
  { direction: 'split', parts: 3, workgroupSize: 256 },
  { direction: 'merge', parts: 1, workgroupSize: 256 },
]);
