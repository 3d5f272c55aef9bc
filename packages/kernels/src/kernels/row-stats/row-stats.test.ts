import { rowMergeProgram, rowStatsProgram } from '../../programs.js';
import { kernelSnapshots } from '@distillery/webgpu/testing';
import type { RowMergeVariant } from './row-merge.wgsl.js';

const dir = import.meta.dirname;

kernelSnapshots(dir, rowStatsProgram, [
  { student: 'f32', teacher: null, vec4: true, workgroupSize: 256, t1: 'same' },
  { student: 'f32', teacher: null, vec4: false, workgroupSize: 256, t1: 'exp' },
  { student: 'f32', teacher: 'f32', vec4: true, workgroupSize: 256, t1: 4 },
  { student: 'f32', teacher: 'f32', vec4: false, workgroupSize: 8, t1: 'exp' },
  { student: 'f16', teacher: 'f16', vec4: true, workgroupSize: 256, t1: 2 },
  { student: 'f16', teacher: 'f32', vec4: false, workgroupSize: 256, t1: 'same' },
  // The hard term's T = 1 sum as a power of the tempered term at T = 7 (three factors).
  { student: 'f32', teacher: 'f32', vec4: true, workgroupSize: 8, t1: 7 },
  // Dense reverse KL: D's online sums next to the normalisers (the teacher's step first).
  { student: 'f32', teacher: 'f32', vec4: true, workgroupSize: 256, t1: 4, reverseKl: true },
  { student: 'f16', teacher: 'f32', vec4: false, workgroupSize: 8, t1: 'same', reverseKl: true },
]);

const merge = (v: Partial<RowMergeVariant>): RowMergeVariant => ({
  teacher: 'topk',
  labels: true,
  student: 'f32',
  divergence: 'forward-kl',
  tail: 'ignore',
  tailMass: false,
  workgroupSize: 64,
  ...v,
});

kernelSnapshots(dir, rowMergeProgram, [
  merge({ teacher: 'none', labels: false }),
  merge({ teacher: 'none', labels: true, student: 'f16' }),
  merge({ teacher: 'dense', labels: true }),
  merge({ teacher: 'dense', labels: false }),
  merge({ teacher: 'dense', labels: true, divergence: 'reverse-kl' }),
  merge({ divergence: 'forward-kl', tail: 'ignore' }),
  merge({ divergence: 'forward-kl', tail: 'bucket' }),
  merge({ divergence: 'forward-kl', tail: 'bucket', tailMass: true, labels: false }),
  merge({ divergence: 'reverse-kl', tail: 'bucket' }),
  merge({ divergence: 'jsd', tail: 'ignore' }),
  merge({ divergence: 'jsd', tail: 'bucket', student: 'f16', workgroupSize: 8 }),
]);
