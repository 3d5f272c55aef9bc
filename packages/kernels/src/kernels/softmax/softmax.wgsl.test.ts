import { softmaxWriteProgram } from '../../programs.js';
import { wgslSnapshots } from '../../../test/snapshots.js';

wgslSnapshots(import.meta.dirname, softmaxWriteProgram, [
  { input: 'f32', output: 'f32', vec4: true, log: false, workgroupSize: 256 },
  { input: 'f32', output: 'f32', vec4: false, log: false, workgroupSize: 256 },
  { input: 'f32', output: 'f32', vec4: true, log: true, workgroupSize: 8 },
  { input: 'f16', output: 'f16', vec4: true, log: true, workgroupSize: 256 },
  { input: 'f16', output: 'f32', vec4: false, log: false, workgroupSize: 256 },
]);
