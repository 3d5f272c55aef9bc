// nn.rms-norm {"accumulate":false,"pass":"backward","subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
var<workgroup> rowSumScratch: array<f32, 64>;
fn rowSum(lid: u32, value: f32) -> f32 {
  rowSumScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { rowSumScratch[lid] = rowSumScratch[lid] + rowSumScratch[lid + s]; }
    workgroupBarrier();
  }
  let result = rowSumScratch[0];
  workgroupBarrier();
  return result;
}


@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // The row is uniform across the workgroup, so the early return keeps the reduction in uniform control flow.
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;

  let rho = rstd[row];
  var gx = 0.0;
  for (var d = lid; d < params.cols; d += 64u) {
    gx += dy[base + d] * weight[d] * x[base + d];
  }
  let k = rho * rho * rowSum(lid, gx) / f32(params.cols);
  for (var d = lid; d < params.cols; d += 64u) {
    dx[base + d] = rho * (dy[base + d] * weight[d] - x[base + d] * k);
  }

}
