// ensemble-mixture {"subgroups":false,"workgroupSize":64}
struct Params {
  teachers: u32,
  rows: u32,
  vocab: u32,
  temperature: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> stacked: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> reduceMaxScratch: array<f32, 64>;
fn reduceMax(lid: u32, value: f32) -> f32 {
  reduceMaxScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { reduceMaxScratch[lid] = max(reduceMaxScratch[lid], reduceMaxScratch[lid + s]); }
    workgroupBarrier();
  }
  let result = reduceMaxScratch[0];
  workgroupBarrier();
  return result;
}

var<workgroup> reduceSumScratch: array<f32, 64>;
fn reduceSum(lid: u32, value: f32) -> f32 {
  reduceSumScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { reduceSumScratch[lid] = reduceSumScratch[lid] + reduceSumScratch[lid + s]; }
    workgroupBarrier();
  }
  let result = reduceSumScratch[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let v = params.vocab;
  let invT = 1.0 / params.temperature;
  // Pass 1: each teacher's row max and partition function at T, folded into its weight.
  // Pass 2: accumulate the weighted probabilities per column, then take T · log.
  for (var i = lid; i < v; i = i + 64u) { out[row * v + i] = 0.0; }
  for (var k = 0u; k < params.teachers; k = k + 1u) {
    let base = (k * params.rows + row) * v;
    var m = -3.402823e38;
    for (var i = lid; i < v; i = i + 64u) { m = max(m, stacked[base + i] * invT); }
    m = reduceMax(lid, m);
    var s = 0.0;
    for (var i = lid; i < v; i = i + 64u) { s = s + exp(stacked[base + i] * invT - m); }
    s = reduceSum(lid, s);
    if (s > 0.0) {
      let scale = weights[k] / s;
      for (var i = lid; i < v; i = i + 64u) { out[row * v + i] = out[row * v + i] + scale * exp(stacked[base + i] * invT - m); }
    }
  }
  // -inf cannot be a WGSL constant; build it from a runtime value so it is not const-folded.
  let negativeInfinity = bitcast<f32>(0xff800000u | (params.rows & 0u));
  for (var i = lid; i < v; i = i + 64u) {
    let p = out[row * v + i];
    out[row * v + i] = select(negativeInfinity, params.temperature * log(p), p > 0.0);
  }
}
