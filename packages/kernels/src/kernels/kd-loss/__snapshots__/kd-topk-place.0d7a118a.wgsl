// kd-topk-place {"grad":"f32"}

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
@group(0) @binding(1) var<storage, read_write> zIn: array<f32>;
@group(0) @binding(2) var<storage, read> topIdx: array<i32>;
@group(0) @binding(3) var<storage, read> supportGrad: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (gid >= params.rows * params.k) { return; }
  let lrow = gid / params.k;
  let e = (params.rowBase + lrow) * params.k + (gid - lrow * params.k);
  let idx = topIdx[e];
  if (idx < 0 || u32(idx) >= params.vocab) { return; }
  zIn[lrow * params.zStride + params.gShift + u32(idx)] = f32(supportGrad[e]);
}
