// nn.sgd {"nesterov":false,"workgroupSize":256}
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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.count || stats[2u] != 1.0) {
    return;
  }
  let weight = w[i];
  let g = stats[1u] * grad[i] + params.weight_decay * weight;
  let vel = params.momentum * velocity[i] + g;
  velocity[i] = vel;

  w[i] = weight - params.lr * vel;

}
