// hidden-match {"loss":"mse","subgroups":false,"workgroupSize":64}
struct Params {
  rows: u32,
  width: u32,
  scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> predicted: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> perRow: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

const EPS: f32 = 1e-8;

// Three partial sums per lane: (Σ(y−t)², 0, 0) for MSE, (Σ y·t, Σ y², Σ t²) for cosine.
var<workgroup> reduceSumScratch: array<vec3<f32>, 64>;
fn reduceSum(lid: u32, value: vec3<f32>) -> vec3<f32> {
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
  let n = params.width;
  let base = row * n;
  var partial = vec3<f32>(0.0);
  for (var j = lid; j < n; j = j + 64u) {
    let y = predicted[base + j];
    let t = teacher[base + j];

    let d = y - t;
    partial.x = partial.x + d * d;

  }
  let sums = reduceSum(lid, partial);

  let invWidth = 1.0 / f32(n);
  if (lid == 0u) { perRow[row] = sums.x * invWidth; }
  let g = 2.0 * params.scale * invWidth;
  for (var j = lid; j < n; j = j + 64u) {
    grad[base + j] = g * (predicted[base + j] - teacher[base + j]);
  }

}
