import { defineKernel, wgsl, type BindingDecl } from '@distillery/webgpu/wgsl';

export interface HeadsVariant {
  /** `split`: [B, T, parts·H·dh] → parts × [B·H, T, dh]; `merge`: the inverse. */
  direction: 'split' | 'merge';
  /** 3 for a fused Q|K|V projection, 1 for a single tensor. */
  parts: 1 | 3;
  workgroupSize: number;
}

/**
 * Moves attention heads between the token-major layout of the projections, `[B, T, parts, H, dh]`,
 * and the head-major layout the batched matmuls want, `[B·H, T, dh]` per part. The backward of a
 * split is a merge and vice versa, so the same kernel serves both directions.
 */
export const headsKernel = defineKernel({
  name: 'nn.heads',
  uniforms: { count: 'u32', T: 'u32', H: 'u32', dh: 'u32', D: 'u32' },
  bindings: (v: HeadsVariant) => {
    const split = v.direction === 'split';
    const head: BindingDecl = { type: 'array<f32>', access: split ? 'read_write' : 'read' };
    return {
      tokens: { type: 'array<f32>', access: split ? 'read' : 'read_write' } as BindingDecl,
      head0: head,
      head1: v.parts === 3 && head,
      head2: v.parts === 3 && head,
    };
  },
  wgsl: (v, k) => {
    const split = v.direction === 'split';
    const moves = Array.from({ length: v.parts }, (_, i) => {
      const tokenIndex = `((b * params.T + t) * ${v.parts}u + ${i}u) * params.D + h * params.dh + e`;
      return split ? `    head${i}[i] = tokens[${tokenIndex}];` : `    tokens[${tokenIndex}] = head${i}[i];`;
    }).join('\n');
    return wgsl`${k.header}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // i indexes the head-major layout [B, H, T, dh].
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
    let e = i % params.dh;
    let t = (i / params.dh) % params.T;
    let h = (i / (params.dh * params.T)) % params.H;
    let b = i / (params.dh * params.T * params.H);
${moves}
  }
}
`;
  },
});
