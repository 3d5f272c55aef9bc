// nn.rms-norm {"accumulate":false,"pass":"forward","subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;
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

  var q = 0.0;
  for (var d = lid; d < params.cols; d += 64u) {
    let value = x[base + d];
    q += value * value;
  }
  let rho = inverseSqrt(rowSum(lid, q) / f32(params.cols) + params.eps);
  for (var d = lid; d < params.cols; d += 64u) {
    y[base + d] = x[base + d] * rho * weight[d];
  }
  if (lid == 0u) {
    rstd[row] = rho;
  }

}
