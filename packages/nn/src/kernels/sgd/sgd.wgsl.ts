import { STATS_FINITE, STATS_SCALE } from '../grad-norm/grad-norm.wgsl.js';

export interface SgdVariant {
  nesterov: boolean;
  workgroupSize: number;
}

/**
 * SGD with momentum, as torch.optim.SGD (dampening 0): g = scale·grad + wd·w; v = μ·v + g;
 * w -= lr · (nesterov ? g + μ·v : v). `scale` is the clip factor from the stats buffer; when the
 * stats say the gradients are not finite the kernel writes nothing, so the weights stay valid.
 */
export function sgdWgsl(v: SgdVariant): string {
  return `
struct Params {
  count: u32,
  lr: f32,
  momentum: f32,
  weight_decay: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> velocity: array<f32>;

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i >= params.count || stats[${STATS_FINITE}u] != 1.0) {
    return;
  }
  let weight = w[i];
  let g = stats[${STATS_SCALE}u] * grad[i] + params.weight_decay * weight;
  let vel = params.momentum * velocity[i] + g;
  velocity[i] = vel;
  ${v.nesterov ? 'w[i] = weight - params.lr * (g + params.momentum * vel);' : 'w[i] = weight - params.lr * vel;'}
}
`;
}
