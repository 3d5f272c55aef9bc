// nn.softmax {"backward":true,"causal":false,"subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> dp: array<f32>;
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
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
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;

  let valid = params.cols;


  var dot = 0.0;
  for (var j = lid; j < valid; j += 64u) {
    dot += p[base + j] * dp[base + j];
  }
  let total = rowSum(lid, dot);
  for (var j = lid; j < params.cols; j += 64u) {
    ds[base + j] = select(0.0, params.scale * p[base + j] * (dp[base + j] - total), j < valid);
  }

}
