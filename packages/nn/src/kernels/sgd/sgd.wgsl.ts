import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';
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
export const sgdKernel = defineKernel({
  name: 'nn.sgd',
  uniforms: { count: 'u32', lr: 'f32', momentum: 'f32', weight_decay: 'f32' },
  bindings: (_v: SgdVariant) => ({
    stats: { type: 'array<f32>', access: 'read' },
    w: { type: 'array<f32>', access: 'read_write' },
    grad: { type: 'array<f32>', access: 'read' },
    velocity: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: ({ nesterov, workgroupSize }, k) => wgsl`${k.header}

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${workgroupSize}u + lid;
  if (i >= params.count || stats[${STATS_FINITE}u] != 1.0) {
    return;
  }
  let weight = w[i];
  let g = stats[${STATS_SCALE}u] * grad[i] + params.weight_decay * weight;
  let vel = params.momentum * velocity[i] + g;
  velocity[i] = vel;
#if ${nesterov}
  w[i] = weight - params.lr * (g + params.momentum * vel);
#else
  w[i] = weight - params.lr * vel;
#endif
}
`,
});
