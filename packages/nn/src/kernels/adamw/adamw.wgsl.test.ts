import { kernelSnapshots } from '@distillery/webgpu/testing';
import { adamwKernel } from './adamw.wgsl.js';

kernelSnapshots(import.meta.dirname, adamwKernel, [{ workgroupSize: 256 }]);
