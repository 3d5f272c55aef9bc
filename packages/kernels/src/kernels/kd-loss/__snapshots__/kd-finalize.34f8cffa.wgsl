// kd-finalize {"lossPartials":true,"rowWeights":false}
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
@group(0) @binding(1) var<storage, read> rowstats: array<f32>;
@group(0) @binding(2) var<storage, read> lossPartials: array<f32>;
@group(0) @binding(3) var<storage, read_write> summary: array<atomic<u32>, 16>;
@group(0) @binding(4) var<storage, read_write> softOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> hardOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> totalOut: array<f32>;
const WG: u32 = 256u;
var<workgroup> sumSoftHardScratch: array<vec2<f32>, 256>;
fn sumSoftHard(lid: u32, value: vec2<f32>) -> vec2<f32> {
  sumSoftHardScratch[lid] = value;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) { sumSoftHardScratch[lid] = sumSoftHardScratch[lid] + sumSoftHardScratch[lid + s]; }
    workgroupBarrier();
  }
  let result = sumSoftHardScratch[0];
  workgroupBarrier();
  return result;
}


@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var softSum = 0.0;
  var hardSum = 0.0;
  for (var row = lid; row < params.totalRows; row += WG) {
    let o = row * 16u;
    let isActive = rowstats[o + 5u] > 0.0;

    var d = 0.0;
    for (var c = 0u; c < params.nChunks; c++) { d += lossPartials[row * params.nChunks + c]; }

    let softOk = isActive && rowstats[o + 10u] > 0.0 && params.softLossScale != 0.0;
    let soft = select(0.0, params.softLossScale * d, softOk);
    let hard = select(0.0, params.hardWeight * rowstats[o + 6u], isActive && params.hardWeight != 0.0);
    softOut[row] = soft;
    hardOut[row] = hard;
    totalOut[row] = soft + hard;
    softSum += soft;
    hardSum += hard;
  }
  let sums = sumSoftHard(lid, vec2<f32>(softSum, hardSum));
  if (lid == 0u) {
    var n = params.normalizer;
    if (n <= 0.0) { n = f32(atomicLoad(&summary[1])); }
    let inv = select(0.0, 1.0 / n, n > 0.0);
    let soft = select(0.0, sums.x * inv, n > 0.0);
    let hard = select(0.0, sums.y * inv, n > 0.0);
    atomicStore(&summary[10], bitcast<u32>(soft + hard));
    atomicStore(&summary[11], bitcast<u32>(soft));
    atomicStore(&summary[12], bitcast<u32>(hard));
    atomicStore(&summary[13], bitcast<u32>(n));
  }
}
