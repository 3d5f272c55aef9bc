// nn.embedding {"accumulate":false,"pass":"gather","positional":false,"workgroupSize":64}
struct Params {
  rows: u32,
  dim: u32,
  vocab: u32,
  context: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row = group;
  if (row >= params.rows) {
    return;
  }
  let id = u32(clamp(ids[row], 0, i32(params.vocab) - 1));
  for (var d = lid; d < params.dim; d += 64u) {

    out[row * params.dim + d] = table[id * params.dim + d];

  }
}
