import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';
import type { RopeLayout } from './reference.js';

export interface RopeVariant {
  layout: RopeLayout;
  /** y is x: one read_write binding (WebGPU forbids binding a buffer twice when one is writable). */
  inPlace: boolean;
  workgroupSize: number;
}

/**
 * Rotary position embedding, one invocation per pair slot (row, head, j < headDim/2). Slot j
 * rotates pair j (norm: elements 2j, 2j+1; neox: j, j + ropeDims/2) when j < ropeDims/2, and copies
 * elements 2j, 2j+1 otherwise (in both layouts those are the ones past ropeDims). Each element is
 * read and written by the same invocation only, so y may be x.
 *
 * θ = pos · 2^(j·freq_exp) with freq_exp = −2·log2(base)/ropeDims, reduced to [−π, π] by a
 * two-constant Cody–Waite step before cos/sin: Vulkan only bounds their error on [−π, π], and
 * pos·freq reaches hundreds of radians at long contexts.
 */
export const ropeKernel = defineKernel({
  name: 'nn.rope',
  uniforms: {
    slots: 'u32',
    context: 'u32',
    heads: 'u32',
    head_dim: 'u32',
    rope_half: 'u32',
    position_offset: 'u32',
    freq_exp: 'f32',
    sin_sign: 'f32',
  },
  bindings: (v: RopeVariant) =>
    v.inPlace
      ? { x: { type: 'array<f32>', access: 'read_write' } as const }
      : { x: { type: 'array<f32>', access: 'read' } as const, y: { type: 'array<f32>', access: 'read_write' } as const },
  wgsl: (v, k) => {
    const out = v.inPlace ? 'x' : 'y';
    return wgsl`${k.header}

// 2π = TWO_PI_HI + TWO_PI_LO; TWO_PI_HI has 8 significant bits, so k·TWO_PI_HI is exact for k < 2^16.
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;
const INV_TWO_PI: f32 = 0.15915494309189535;

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i >= params.slots) {
    return;
  }
  let half_dim = params.head_dim / 2u;
  let slot = i % half_dim;
  // Slot i belongs to flat head i / half_dim (row-major [rows, heads]), whose first element is (i / half_dim)·headDim.
  let row_head = i / half_dim;
  let base = row_head * params.head_dim;
  if (slot < params.rope_half) {
#if ${v.layout === 'norm'}
    let e0 = base + 2u * slot;
    let e1 = e0 + 1u;
#else
    let e0 = base + slot;
    let e1 = e0 + params.rope_half;
#endif
    let pos = f32(row_head / params.heads % params.context + params.position_offset);
    let theta = pos * exp2(f32(slot) * params.freq_exp);
    let k = round(theta * INV_TWO_PI);
    let r = (theta - k * TWO_PI_HI) - k * TWO_PI_LO;
    let c = cos(r);
    let s = sin(r) * params.sin_sign;
    let x0 = x[e0];
    let x1 = x[e1];
    ${out}[e0] = x0 * c - x1 * s;
    ${out}[e1] = x0 * s + x1 * c;
  }
#if ${!v.inPlace}
  else {
    let e0 = base + 2u * slot;
    y[e0] = x[e0];
    y[e0 + 1u] = x[e0 + 1u];
  }
#endif
}
`;
  },
});
