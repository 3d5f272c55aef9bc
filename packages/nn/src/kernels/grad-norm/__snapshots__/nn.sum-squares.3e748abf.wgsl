// nn.sum-squares {"subgroups":true,"workgroupSize":256}
enable subgroups;
struct Params {
  count: u32,
  slot: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
var<workgroup> groupSumScratch: array<f32, 256>;
fn groupSum(lid: u32, value: f32) -> f32 {
  // Every invocation is active here (uniform control flow), so this counts the subgroup's size.
  let size = subgroupAdd(1u);
  let part = subgroupAdd(value);
  if (lid % size == 0u) { groupSumScratch[lid / size] = part; }
  workgroupBarrier();
  let count = (256u + size - 1u) / size;
  var acc = f32();
  for (var i = lid % size; i < count; i += size) { acc = acc + groupSumScratch[i]; }
  let result = subgroupAdd(acc);
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
