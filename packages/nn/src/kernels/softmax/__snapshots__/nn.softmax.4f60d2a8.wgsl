// nn.softmax {"backward":false,"causal":false,"subgroups":true,"workgroupSize":64}
enable subgroups;
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
  // Every invocation is active here (uniform control flow), so this counts the subgroup's size.
  let size = subgroupAdd(1u);
  let part = subgroupAdd(value);
  if (lid % size == 0u) { rowSumScratch[lid / size] = part; }
  workgroupBarrier();
  let count = (64u + size - 1u) / size;
  var acc = f32();
  for (var i = lid % size; i < count; i += size) { acc = acc + rowSumScratch[i]; }
  let result = subgroupAdd(acc);
  workgroupBarrier();
  return result;
}


var<workgroup> rowMaxScratch: array<f32, 64>;
fn rowMax(lid: u32, value: f32) -> f32 {
  // Every invocation is active here (uniform control flow), so this counts the subgroup's size.
  let size = subgroupAdd(1u);
  let part = subgroupMax(value);
  if (lid % size == 0u) { rowMaxScratch[lid / size] = part; }
  workgroupBarrier();
  let count = (64u + size - 1u) / size;
  var acc = rowMaxScratch[0];
  for (var i = lid % size; i < count; i += size) { acc = max(acc, rowMaxScratch[i]); }
  let result = subgroupMax(acc);
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
