import { wgsl } from '../../wgsl.js';

export interface CopyVariant {
  /** Threads per workgroup. */
  workgroupSize: number;
  /** Move 4 words per thread (the bulk) or 1 (the tail of a length not divisible by 4). */
  vec4: boolean;
}

/** Streaming copy of 32-bit words, `count` elements starting at element `offset`. */
export function copyWgsl({ workgroupSize, vec4 }: CopyVariant): string {
  return wgsl`
struct Params {
  count: u32,
  offset: u32,
};

#if ${vec4}
alias Element = vec4<u32>;
#else
alias Element = u32;
#endif

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Element>;
@group(0) @binding(2) var<storage, read_write> dst: array<Element>;

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${workgroupSize}u + lid;
  if (i < params.count) {
    dst[params.offset + i] = src[params.offset + i];
  }
}
`;
}
