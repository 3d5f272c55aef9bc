// nn.rms-norm {"accumulate":true,"pass":"param-grad","subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> dweight: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  if (d >= params.cols) {
    return;
  }
  var g = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let i = r * params.cols + d;
    g += dy[i] * x[i] * rstd[r];
  }

  dweight[d] += g;

}
