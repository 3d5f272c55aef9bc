// kd-divergence-merge {"divergence":"jsd"}
struct Params {
  rows: u32,
  rowBase: u32,
  totalRows: u32,
  vocab: u32,
  cols: u32,
  tCols: u32,
  zStride: u32,
  tStride: u32,
  zShift: u32,
  tShift: u32,
  gShift: u32,
  chunk: u32,
  nChunks: u32,
  k: u32,
  hasLabels: u32,
  ignoreIndex: i32,
  needT1: u32,
  normalizer: f32,
  invT: f32,
  softScale: f32,
  softLossScale: f32,
  hardWeight: f32,
  beta: f32,
  oneMinusBeta: f32,
  logBeta: f32,
  log1mBeta: f32,
  hasTailMass: u32,
  topkMismatch: u32,
  negInf: f32,
  posInf: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> divPartials: array<f32>;
@group(0) @binding(2) var<storage, read_write> rowstats: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lrow = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (lrow >= params.rows) { return; }
  let row = params.rowBase + lrow;
  var d = 0.0;
  var k = 0.0;
  for (var c = 0u; c < params.nChunks; c++) {
    d += divPartials[(row * params.nChunks + c) * 2u];
    k += divPartials[(row * params.nChunks + c) * 2u + 1u];
  }
  let o = row * 16u;
  rowstats[o + 7u] = d;
  rowstats[o + 8u] = k;
}
