// nn.sum-squares {"subgroups":false,"workgroupSize":256}
struct Params {
  count: u32,
  slot: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
var<workgroup> groupSumScratch: array<f32, 256>;
fn groupSum(lid: u32, value: f32) -> f32 {
  groupSumScratch[lid] = value;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) { groupSumScratch[lid] = groupSumScratch[lid] + groupSumScratch[lid + s]; }
    workgroupBarrier();
  }
  let result = groupSumScratch[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  let stride = 8192u;
  for (var i = wid.x * 256u + lid; i < params.count; i += stride) {
    let v = x[i];
    sum += v * v;
  }
  let total = groupSum(lid, sum);
  if (lid == 0u) {
    partials[params.slot * 32u + wid.x] = total;
  }
}
