import { RANDOM_WGSL } from '../../random.js';

export interface JitterVariant {
  workgroupSize: number;
}

/** y = x + std · N(0, 1), the normal drawn from (seed, step, index) by Box–Muller. */
export function jitterWgsl(v: JitterVariant): string {
  return `
struct Params {
  count: u32,
  seed: u32,
  step: u32,
  noise_std: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${RANDOM_WGSL}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
    y[i] = x[i] + params.noise_std * normal_at(stream_key(params.seed, params.step), i);
  }
}
`;
}
