// hidden-match {"loss":"cosine","subgroups":true,"workgroupSize":64}
enable subgroups;
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
  // Every invocation is active here (uniform control flow), so this counts the subgroup's size.
  let size = subgroupAdd(1u);
  let part = subgroupAdd(value);
  if (lid % size == 0u) { reduceSumScratch[lid / size] = part; }
  workgroupBarrier();
  let count = (64u + size - 1u) / size;
  var acc = vec3<f32>();
  for (var i = lid % size; i < count; i += size) { acc = acc + reduceSumScratch[i]; }
  let result = subgroupAdd(acc);
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

    partial = partial + vec3<f32>(y * t, y * y, t * t);

  }
  let sums = reduceSum(lid, partial);

  let ny = sqrt(sums.y);
  let nyc = max(ny, EPS);
  let ntc = max(sqrt(sums.z), EPS);
  let cosine = sums.x / (nyc * ntc);
  if (lid == 0u) { perRow[row] = 1.0 - cosine; }
  let onT = -params.scale / (nyc * ntc);
  let onY = select(0.0, params.scale * cosine / (nyc * nyc), ny > EPS);
  for (var j = lid; j < n; j = j + 64u) {
    grad[base + j] = onT * teacher[base + j] + onY * predicted[base + j];
  }

}
