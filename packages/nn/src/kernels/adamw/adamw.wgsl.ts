import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';
import { STATS_FINITE, STATS_SCALE } from '../grad-norm/grad-norm.wgsl.js';

export interface AdamWVariant {
  workgroupSize: number;
}

/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW: decoupled decay w ← w·(1 − lr·wd), then
 * w ← w − (lr / bc1) · m / (√v / √bc2 + ε). Bias corrections come from the host in float64.
 * Skips the update when the stats buffer says the gradients are not finite.
 */
export const adamwKernel = defineKernel({
  name: 'nn.adamw',
  uniforms: { count: 'u32', lr: 'f32', beta1: 'f32', beta2: 'f32', eps: 'f32', weight_decay: 'f32', step_size: 'f32', sqrt_bc2: 'f32' },
  bindings: (_v: AdamWVariant) => ({
    stats: { type: 'array<f32>', access: 'read' },
    w: { type: 'array<f32>', access: 'read_write' },
    grad: { type: 'array<f32>', access: 'read' },
    m: { type: 'array<f32>', access: 'read_write' },
    v: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: ({ workgroupSize }, k) => wgsl`${k.header}

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${workgroupSize}u + lid;
  if (i >= params.count || stats[${STATS_FINITE}u] != 1.0) {
    return;
  }
  let g = stats[${STATS_SCALE}u] * grad[i];
  let m1 = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let v1 = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = m1;
  v[i] = v1;
  let decayed = w[i] * (1.0 - params.lr * params.weight_decay);
  w[i] = decayed - params.step_size * m1 / (sqrt(v1) / params.sqrt_bc2 + params.eps);
}
`,
});
