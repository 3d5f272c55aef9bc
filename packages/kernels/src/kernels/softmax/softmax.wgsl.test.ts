import { softmaxWriteProgram } from '../../programs.js';
import { kernelSnapshots } from '@distillery/webgpu/testing';

kernelSnapshots(import.meta.dirname, softmaxWriteProgram, [
  { input: 'f32', output: 'f32', vec4: true, log: false, workgroupSize: 256 },
  { input: 'f32', output: 'f32', vec4: false, log: false, workgroupSize: 256 },
  { input: 'f32', output: 'f32', vec4: true, log: true, workgroupSize: 8 },
  { input: 'f16', output: 'f16', vec4: true, log: true, workgroupSize: 256 },
  { input: 'f16', output: 'f32', vec4: false, log: false, workgroupSize: 256 },
]);
