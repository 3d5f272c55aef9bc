import {
  kdDivergenceMergeProgram,
  kdDivergenceProgram,
  kdFinalizeProgram,
  kdGradientProgram,
  kdTopkPlaceProgram,
  kdTopkScatterProgram,
} from '../../programs.js';
import { kernelSnapshots } from '@distillery/webgpu/testing';
import type { KdGradientVariant } from './kd-gradient.wgsl.js';

const dir = import.meta.dirname;

kernelSnapshots(dir, kdDivergenceProgram, [
  { student: 'f32', teacher: 'f32', vec4: true, divergence: 'jsd', workgroupSize: 256 },
  { student: 'f16', teacher: 'f16', vec4: false, divergence: 'jsd', workgroupSize: 8 },
]);

kernelSnapshots(dir, kdDivergenceMergeProgram, [{ divergence: 'jsd' }]);

const grad = (v: Partial<KdGradientVariant>): KdGradientVariant => ({
  student: 'f32',
  teacher: 'f32',
  grad: 'f32',
  vec4: true,
  divergence: 'forward-kl',
  labels: true,
  rowWeights: false,
  workgroupSize: 256,
  t1: 2,
  ...v,
});

kernelSnapshots(dir, kdGradientProgram, [
  grad({}),
  grad({ vec4: false, labels: false }),
  grad({ divergence: 'reverse-kl' }),
  grad({ divergence: 'jsd' }),
  grad({ divergence: 'jsd', vec4: false }),
  grad({ teacher: 'topk', divergence: 'forward-kl' }),
  grad({ teacher: 'none', divergence: 'forward-kl' }),
  grad({ student: 'f16', teacher: 'f16', grad: 'f16' }),
  grad({ student: 'f16', teacher: 'f32', grad: 'f32', vec4: false, workgroupSize: 8 }),
  grad({ rowWeights: true }),
  // The hard term's softmax(z): its own exp (T not an integer), q itself (T = 1), q's 4th power (T = 4).
  grad({ t1: 'exp' }),
  grad({ t1: 'same', vec4: false }),
  grad({ t1: 4, workgroupSize: 8 }),
  grad({ rowWeights: true, teacher: 'none', vec4: false }),
  grad({ rowWeights: true, divergence: 'jsd', student: 'f16', teacher: 'f16', grad: 'f16', workgroupSize: 8 }),
  // In place: the logits binding is read_write and receives the gradient.
  grad({ inPlace: true }),
  grad({ inPlace: true, teacher: 'topk', vec4: false }),
  grad({ inPlace: true, teacher: 'none', divergence: 'forward-kl' }),
  grad({ inPlace: true, divergence: 'reverse-kl' }),
  grad({ inPlace: true, divergence: 'jsd', student: 'f16', teacher: 'f16', grad: 'f16', workgroupSize: 8 }),
]);

kernelSnapshots(dir, kdTopkScatterProgram, [
  { student: 'f32', grad: 'f32', divergence: 'forward-kl', labels: true, rowWeights: false },
  { student: 'f32', grad: 'f32', divergence: 'reverse-kl', labels: false, rowWeights: false },
  { student: 'f16', grad: 'f16', divergence: 'jsd', labels: true, rowWeights: false },
  { student: 'f32', grad: 'f32', divergence: 'reverse-kl', labels: true, rowWeights: true },
  // In place: the support gradient goes to a scratch buffer, written by kd-topk-place.
  { student: 'f32', grad: 'f32', divergence: 'forward-kl', labels: true, rowWeights: false, inPlace: true },
  { student: 'f16', grad: 'f16', divergence: 'jsd', labels: false, rowWeights: true, inPlace: true },
]);

kernelSnapshots(dir, kdTopkPlaceProgram, [{ grad: 'f32' }, { grad: 'f16' }]);

kernelSnapshots(dir, kdFinalizeProgram, [
  { lossPartials: true, rowWeights: false },
  { lossPartials: false, rowWeights: false },
  { lossPartials: true, rowWeights: true },
  { lossPartials: false, rowWeights: true },
]);
