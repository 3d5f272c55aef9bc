import { defineKernel, wgsl } from '../../wgsl/index.js';

export interface CopyVariant {
  /** Threads per workgroup. */
  workgroupSize: number;
  /** Move 4 words per thread (the bulk) or 1 (the tail of a length not divisible by 4). */
  vec4: boolean;
}

/** Streaming copy of 32-bit words, `count` elements starting at element `offset` (any dtype: words are words). */
export const copyKernel = defineKernel({
  name: 'copy',
  uniforms: { count: 'u32', offset: 'u32' },
  bindings: ({ vec4 }: CopyVariant) => ({
    src: { type: vec4 ? 'array<vec4<u32>>' : 'array<u32>', access: 'read', dtype: 'any' },
    dst: { type: vec4 ? 'array<vec4<u32>>' : 'array<u32>', access: 'read_write', dtype: 'any' },
  }),
  wgsl: ({ workgroupSize }, k) => wgsl`${k.header}

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${workgroupSize}u + lid;
  if (i < params.count) {
    dst[params.offset + i] = src[params.offset + i];
  }
}
`,
});

/** The WGSL of a variant. */
export const copyWgsl = (variant: CopyVariant): string => copyKernel.wgsl(variant);
