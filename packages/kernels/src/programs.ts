import type { KernelProgram } from '@distillery/webgpu';
import { stableKey } from '@distillery/webgpu/wgsl';
import {
  kdDivergenceMergeWgsl,
  kdDivergenceWgsl,
  type KdDivergenceMergeVariant,
  type KdDivergenceVariant,
} from './kernels/kd-loss/kd-divergence.wgsl.js';
import { kdFinalizeWgsl, type KdFinalizeVariant } from './kernels/kd-loss/kd-finalize.wgsl.js';
import { kdGradientWgsl, type KdGradientVariant } from './kernels/kd-loss/kd-gradient.wgsl.js';
import { kdTopkPlaceWgsl, kdTopkScatterWgsl, type KdTopkPlaceVariant, type KdTopkScatterVariant } from './kernels/kd-loss/kd-topk.wgsl.js';
import { rowMergeWgsl, type RowMergeVariant } from './kernels/row-stats/row-merge.wgsl.js';
import { rowStatsWgsl, type RowStatsVariant } from './kernels/row-stats/row-stats.wgsl.js';
import { softmaxWriteWgsl, type SoftmaxWriteVariant } from './kernels/softmax/softmax.wgsl.js';

const F16: GPUFeatureName[] = ['shader-f16' as GPUFeatureName];
const needsF16 = (variant: object) => (Object.values(variant).includes('f16') ? F16 : []);

function program<V extends object>(name: string, wgsl: (v: V) => string): KernelProgram<V> {
  // Every field of a variant changes the WGSL, so the cache key is all of them (the kit's stable key).
  return { name, cacheKey: stableKey, wgsl, requiredFeatures: needsF16 };
}

export const rowStatsProgram = program<RowStatsVariant>('row-stats', rowStatsWgsl);
export const rowMergeProgram = program<RowMergeVariant>('row-merge', rowMergeWgsl);
export const kdDivergenceProgram = program<KdDivergenceVariant>('kd-divergence', kdDivergenceWgsl);
export const kdDivergenceMergeProgram = program<KdDivergenceMergeVariant>('kd-divergence-merge', kdDivergenceMergeWgsl);
export const kdGradientProgram = program<KdGradientVariant>('kd-gradient', kdGradientWgsl);
export const kdTopkScatterProgram = program<KdTopkScatterVariant>('kd-topk-scatter', kdTopkScatterWgsl);
export const kdTopkPlaceProgram = program<KdTopkPlaceVariant>('kd-topk-place', kdTopkPlaceWgsl);
export const kdFinalizeProgram = program<KdFinalizeVariant>('kd-finalize', kdFinalizeWgsl);
export const softmaxWriteProgram = program<SoftmaxWriteVariant>('softmax-write', softmaxWriteWgsl);
