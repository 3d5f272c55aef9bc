import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';
import { RANDOM_WGSL } from '../../random.js';
import { ACTIVATION_WGSL, type Activation } from '../activation-math.js';

export interface ActivationVariant {
  activation: Activation;
  dropout: boolean;
  /** Backward: dx = dy · dropout mask · act'(saved). */
  backward: boolean;
  workgroupSize: number;
}

/**
 * Pointwise activation + inverted dropout, forward (y = mask · act(x)) or backward
 * (dx = dy · mask · act'(saved)). `saved` is the pre-activation; for ReLU the forward's output
 * works too (it is positive exactly where the pre-activation is and the unit was kept).
 * The dropout mask is recomputed from (seed, step, index), never stored.
 */
export const activationKernel = defineKernel({
  name: 'nn.activation',
  uniforms: { count: 'u32', seed: 'u32', step: 'u32', p: 'f32', keep_scale: 'f32' },
  bindings: (v: ActivationVariant) =>
    v.backward
      ? {
          grad_out: { type: 'array<f32>', access: 'read' },
          saved: { type: 'array<f32>', access: 'read' },
          grad_in: { type: 'array<f32>', access: 'read_write' },
        }
      : { x: { type: 'array<f32>', access: 'read' }, y: { type: 'array<f32>', access: 'read_write' } },
  wgsl: (v, k) => {
    const scalarAct = (x: string) =>
      v.activation === 'relu' ? `relu4(vec4<f32>(${x})).x` : v.activation === 'gelu' ? `gelu4(vec4<f32>(${x})).x` : x;
    const scalarGrad = (z: string) =>
      v.activation === 'relu' ? `select(0.0, 1.0, ${z} > 0.0)` : v.activation === 'gelu' ? `gelu_grad4(vec4<f32>(${z})).x` : '1.0';
    const mask = v.dropout ? ' * select(0.0, params.keep_scale, uniform_at(stream_key(params.seed, params.step), i) >= params.p)' : '';
    return wgsl`${k.header}
#if ${v.dropout}
${RANDOM_WGSL}
#endif
#if ${v.activation !== 'none'}
${ACTIVATION_WGSL}
#endif

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
#if ${v.backward && v.activation === 'none'}
    // Without an activation \`saved\` is not read; a phony use keeps it in the bind group layout.
    _ = saved[i];
#endif
#if ${v.backward}
    grad_in[i] = grad_out[i] * ${scalarGrad('saved[i]')}${mask};
#else
    y[i] = ${scalarAct('x[i]')}${mask};
#endif
  }
}
`;
  },
});
