export interface SwigluVariant {
  backward: boolean;
  workgroupSize: number;
}

export function swigluCacheKey(v: SwigluVariant): string {
  return `${v.backward ? 'bwd' : 'fwd'}-wg${v.workgroupSize}`;
}

/**
 * SwiGLU gating of the Llama feed-forward, elementwise: out = silu(gate)·up, and its backward
 * dgate = dout·up·σ(g)·(1 + g·(1 − σ(g))), dup = dout·silu(g).
 * σ is computed as 1/(1 + e^−g) with the exponent clamped: exp overflowing to +inf is what makes σ
 * 0 for very negative g, and some drivers' exp returns NaN rather than inf there.
 */
export function swigluWgsl(v: SwigluVariant): string {
  const bindings = v.backward
    ? `@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`;
  const body = v.backward
    ? `let g = gate[i];
    let s = sigmoid(g);
    let d = dout[i];
    dgate[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
    dup[i] = d * g * s;`
    : `let g = gate[i];
    out[i] = g * sigmoid(g) * up[i];`;
  return `
struct Params {
  count: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
${bindings}

fn sigmoid(z: f32) -> f32 {
  return 1.0 / (1.0 + exp(min(-z, 80.0)));
}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
    ${body}
  }
}
`;
}
