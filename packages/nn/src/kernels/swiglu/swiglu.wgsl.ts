import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';

export interface SwigluVariant {
  backward: boolean;
  workgroupSize: number;
}

const READ = { type: 'array<f32>', access: 'read' } as const;
const WRITE = { type: 'array<f32>', access: 'read_write' } as const;

/**
 * SwiGLU gating of the Llama feed-forward, elementwise: out = silu(gate)·up, and its backward
 * dgate = dout·up·σ(g)·(1 + g·(1 − σ(g))), dup = dout·silu(g).
 * σ is computed as 1/(1 + e^−g) with the exponent clamped: exp overflowing to +inf is what makes σ
 * 0 for very negative g, and some drivers' exp returns NaN rather than inf there.
 */
export const swigluKernel = defineKernel({
  name: 'nn.swiglu',
  uniforms: { count: 'u32' },
  bindings: (v: SwigluVariant) =>
    v.backward ? { dout: READ, gate: READ, up: READ, dgate: WRITE, dup: WRITE } : { gate: READ, up: READ, out: WRITE },
  wgsl: (v, k) => wgsl`${k.header}

fn sigmoid(z: f32) -> f32 {
  return 1.0 / (1.0 + exp(min(-z, 80.0)));
}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i >= params.count) {
    return;
  }
  let g = gate[i];
  let s = sigmoid(g);
#if ${v.backward}
  let d = dout[i];
  dgate[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = d * g * s;
#else
  out[i] = g * s * up[i];
#endif
}
`,
});
