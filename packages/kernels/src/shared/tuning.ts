import { isCpuDevice } from '@distillery/webgpu';

/** Launch shapes per adapter kind (workgroup sizes enter the variant; chunk counts are uniforms). */
export interface Tuning {
  /** Threads per workgroup of the streaming passes (row stats, divergence, gradient, softmax write). */
  streamWorkgroup: number;
  /** Threads per workgroup of the per-row top-k pass. */
  rowWorkgroup: number;
  /** Aim for at least this many workgroups per streaming pass (rows × chunks). */
  targetGroups: number;
  /** Never make chunks smaller than this many columns. */
  minChunk: number;
}

const cache = new WeakMap<GPUDevice, Tuning>();

/**
 * On a GPU: 256-thread workgroups and ≥ 1,024 of them. On a CPU adapter every barrier costs a
 * context switch per SIMD group, so a workgroup is one SIMD group (the subgroup size, 8 on
 * 256-bit lavapipe) and there are only a few per core: measured 4–5× faster on lavapipe.
 */
export function tuningFor(device: GPUDevice): Tuning {
  let tuning = cache.get(device);
  if (!tuning) {
    if (isCpuDevice(device)) {
      const info = (device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
      const simd = info?.subgroupMinSize && info.subgroupMinSize >= 4 && info.subgroupMinSize <= 64 ? info.subgroupMinSize : 8;
      tuning = { streamWorkgroup: simd, rowWorkgroup: simd, targetGroups: 64, minChunk: 2048 };
    } else {
      tuning = { streamWorkgroup: 256, rowWorkgroup: 64, targetGroups: 1024, minChunk: 2048 };
    }
    cache.set(device, tuning);
  }
  return tuning;
}
