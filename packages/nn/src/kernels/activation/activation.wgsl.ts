import { RANDOM_WGSL } from '../../random.js';
import { ACTIVATION_WGSL, type Activation } from '../activation-math.js';

export interface ActivationVariant {
  activation: Activation;
  dropout: boolean;
  /** Backward: dx = dy · dropout mask · act'(saved). */
  backward: boolean;
  workgroupSize: number;
}

export function activationCacheKey(v: ActivationVariant): string {
  return `${v.activation}-${v.dropout ? 'drop' : 'nodrop'}-${v.backward ? 'bwd' : 'fwd'}-wg${v.workgroupSize}`;
}

/**
 * Pointwise activation + inverted dropout, forward (y = mask · act(x)) or backward
 * (dx = dy · mask · act'(saved)). `saved` is the pre-activation; for ReLU the forward's output
 * works too (it is positive exactly where the pre-activation is and the unit was kept).
 * The dropout mask is recomputed from (seed, step, index), never stored.
 */
export function activationWgsl(v: ActivationVariant): string {
  const scalarAct = (x: string) => (v.activation === 'relu' ? `relu4(vec4<f32>(${x})).x` : v.activation === 'gelu' ? `gelu4(vec4<f32>(${x})).x` : x);
  const scalarGrad = (z: string) =>
    v.activation === 'relu' ? `select(0.0, 1.0, ${z} > 0.0)` : v.activation === 'gelu' ? `gelu_grad4(vec4<f32>(${z})).x` : '1.0';
  const mask = v.dropout ? ' * select(0.0, params.keep_scale, uniform_at(stream_key(params.seed, params.step), i) >= params.p)' : '';
  const bindings = v.backward
    ? `@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_in: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;`;
  // Without an activation `saved` is not read; a phony use keeps it in the bind group layout.
  const keepSaved = v.backward && v.activation === 'none' ? '_ = saved[i];\n    ' : '';
  const body = v.backward ? `${keepSaved}grad_in[i] = grad_out[i] * ${scalarGrad('saved[i]')}${mask};` : `y[i] = ${scalarAct('x[i]')}${mask};`;
  return `
struct Params {
  count: u32,
  seed: u32,
  step: u32,
  p: f32,
  keep_scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
${bindings}
${v.dropout ? RANDOM_WGSL : ''}
${v.activation !== 'none' ? ACTIVATION_WGSL : ''}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
    ${body}
  }
}
`;
}
