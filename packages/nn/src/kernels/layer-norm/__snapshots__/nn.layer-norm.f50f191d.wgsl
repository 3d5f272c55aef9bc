// nn.layer-norm {"accumulate":false,"pass":"backward","subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
var<workgroup> rowSumsScratch: array<vec2<f32>, 64>;
fn rowSums(lid: u32, value: vec2<f32>) -> vec2<f32> {
  rowSumsScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { rowSumsScratch[lid] = rowSumsScratch[lid] + rowSumsScratch[lid + s]; }
    workgroupBarrier();
  }
  let result = rowSumsScratch[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var a = 0.0;
  var b = 0.0;
  for (var d = lid; d < params.cols; d += 64u) {
    let g = dy[base + d] * gamma[d];
    a += g;
    b += g * (x[base + d] - mean) * rstd;
  }
  let sums = rowSums(lid, vec2<f32>(a, b)) / f32(params.cols);
  let mean_g = sums.x;
  let mean_gx = sums.y;
  for (var d = lid; d < params.cols; d += 64u) {
    let xhat = (x[base + d] - mean) * rstd;
    dx[base + d] = rstd * (dy[base + d] * gamma[d] - mean_g - xhat * mean_gx);
  }
}
