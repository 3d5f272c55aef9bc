// nn.bias-grad {"accumulate":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  if (col >= params.cols) {
    return;
  }
  var sum = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    sum += grad[r * params.cols + col];
  }

  db[col] = sum;

}
