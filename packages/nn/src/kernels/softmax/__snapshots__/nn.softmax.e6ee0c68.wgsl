// nn.softmax {"backward":false,"causal":true,"subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
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


var<workgroup> rowMaxScratch: array<f32, 64>;
fn rowMax(lid: u32, value: f32) -> f32 {
  rowMaxScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { rowMaxScratch[lid] = max(rowMaxScratch[lid], rowMaxScratch[lid + s]); }
    workgroupBarrier();
  }
  let result = rowMaxScratch[0];
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

  let valid = min(row % params.cols + 1u, params.cols);


  var m = -3.0e38;
  for (var j = lid; j < valid; j += 64u) {
    m = max(m, params.scale * s[base + j]);
  }
  let row_max = rowMax(lid, m);
  var sum = 0.0;
  for (var j = lid; j < valid; j += 64u) {
    sum += exp(params.scale * s[base + j] - row_max);
  }
  let inv = 1.0 / rowSum(lid, sum);
  for (var j = lid; j < params.cols; j += 64u) {
    p[base + j] = select(0.0, exp(params.scale * s[base + j] - row_max) * inv, j < valid);
  }

}
