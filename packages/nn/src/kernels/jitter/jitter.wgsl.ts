import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';
import { RANDOM_WGSL } from '../../random.js';

export interface JitterVariant {
  workgroupSize: number;
}

/** y = x + std · N(0, 1), the normal drawn from (seed, step, index) by Box–Muller. */
export const jitterKernel = defineKernel({
  name: 'nn.jitter',
  uniforms: { count: 'u32', seed: 'u32', step: 'u32', noise_std: 'f32' },
  bindings: (_v: JitterVariant) => ({
    x: { type: 'array<f32>', access: 'read' },
    y: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: (v, k) => wgsl`${k.header}
${RANDOM_WGSL}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
    y[i] = x[i] + params.noise_std * normal_at(stream_key(params.seed, params.step), i);
  }
}
`,
});
