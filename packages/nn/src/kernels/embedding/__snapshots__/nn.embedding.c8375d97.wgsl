// nn.embedding {"accumulate":false,"pass":"position-grad","positional":true,"workgroupSize":64}
struct Params {
  rows: u32,
  dim: u32,
  vocab: u32,
  context: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_positions: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let t = group;
  if (t >= params.context) {
    return;
  }
  for (var d = lid; d < params.dim; d += 64u) {
    var sum = 0.0;
    for (var r = t; r < params.rows; r += params.context) {
      sum += grad_out[r * params.dim + d];
    }
    grad_positions[t * params.dim + d] = sum;
  }
}
