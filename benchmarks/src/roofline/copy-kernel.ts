import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';

/**
 * How a streaming WGSL copy spreads `count` vec4s over a fixed grid of threads:
 * - `grid-stride`: thread t moves t, t + T, t + 2T, … (T = all threads): neighbouring threads touch
 *   neighbouring vec4s, what a GPU coalesces;
 * - `blocked`: thread t moves one contiguous run of ⌈count / T⌉ vec4s: what a CPU rasteriser, which
 *   runs a workgroup's threads as SIMD lanes one workgroup per core, may prefer.
 * `unroll` vec4s are moved per loop iteration (independent loads in flight).
 */
export interface StreamCopyVariant {
  layout: 'grid-stride' | 'blocked';
  unroll: 1 | 2 | 4;
  workgroupSize: number;
}

export const streamCopyKernel = defineKernel({
  name: 'bench.stream-copy',
  uniforms: { count: 'u32' },
  bindings: () => ({
    src: { type: 'array<vec4<u32>>', access: 'read', dtype: 'any' },
    dst: { type: 'array<vec4<u32>>', access: 'read_write', dtype: 'any' },
  }),
  wgsl: ({ layout, unroll, workgroupSize }: StreamCopyVariant, k) => {
    const lanes = Array.from({ length: unroll }, (_, u) => u);
    const gridStride = layout === 'grid-stride';
    // Indices of one iteration: strided by all threads (grid-stride) or consecutive (blocked).
    const at = (u: number) => (u === 0 ? 'i' : gridStride ? `i + ${u}u * total` : `i + ${u}u`);
    return wgsl`${k.header}

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let total = nwg.x * ${workgroupSize}u;
  let thread = wid.x * ${workgroupSize}u + lid;
  let count = params.count;
#if ${gridStride}
  var i = thread;
  let step = total * ${unroll}u;
  let reach = (${unroll}u - 1u) * total;
  let end = count;
#else
  let chunk = (count + total - 1u) / total;
  var i = min(thread * chunk, count);
  let end = min(i + chunk, count);
  let step = ${unroll}u;
  let reach = ${unroll}u - 1u;
#endif
  // The unrolled body runs while its last index is in range (no per-element bounds checks).
  for (; i + reach < end; i += step) {
${lanes.map((u) => `    let v${u} = src[${at(u)}];`).join('\n')}
${lanes.map((u) => `    dst[${at(u)}] = v${u};`).join('\n')}
  }
#if ${gridStride}
  for (; i < end; i += total) { dst[i] = src[i]; }
#else
  for (; i < end; i++) { dst[i] = src[i]; }
#endif
}
`;
  },
});
