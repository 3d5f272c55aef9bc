// nn.adamw {"workgroupSize":256}
struct Params {
  count: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  step_size: f32,
  sqrt_bc2: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.count || stats[2u] != 1.0) {
    return;
  }
  let g = stats[1u] * grad[i];
  let m1 = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let v1 = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = m1;
  v[i] = v1;
  let decayed = w[i] * (1.0 - params.lr * params.weight_decay);
  w[i] = decayed - params.step_size * m1 / (sqrt(v1) / params.sqrt_bc2 + params.eps);
}
