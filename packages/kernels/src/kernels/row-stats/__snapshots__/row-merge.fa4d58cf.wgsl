// row-merge {"divergence":"forward-kl","labels":false,"student":"f32","tail":"bucket","tailMass":true,"teacher":"topk","workgroupSize":64}

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
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> rowstats: array<f32>;
@group(0) @binding(3) var<storage, read_write> summary: array<atomic<u32>, 16>;
@group(0) @binding(4) var<storage, read> zIn: array<f32>;
@group(0) @binding(5) var<storage, read> topIdx: array<i32>;
@group(0) @binding(6) var<storage, read> topLogp: array<f32>;
@group(0) @binding(7) var<storage, read> tailMass: array<f32>;
alias Acc = f32;
alias UAcc = u32;
const W: u32 = 1u;
fn hmax(v: Acc) -> f32 { return v; }
fn hsum(v: Acc) -> f32 { return v; }
fn lane(v: Acc, i: u32) -> f32 { return v; }
fn laneIds() -> u32 { return 0u; }
fn anyBad(v: Acc) -> bool {
  let bits = bitcast<u32>(v);
  return ((bits & 0x7f800000u) == 0x7f800000u) && (bits != 0xff800000u);
}

const SENTINEL: f32 = -3e+38;
const EXP_CUTOFF: f32 = -87.0;
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-06;

fn safeExp(x: f32) -> f32 { return select(exp(x), 0.0, x < EXP_CUTOFF); }
fn safeExpAcc(x: Acc) -> Acc { return select(exp(x), Acc(0.0), x < Acc(EXP_CUTOFF)); }

// 2 atanh(s) for |s| <= 1/3.
fn atanh2(s: f32) -> f32 {
  let s2 = s * s;
  let poly = 0.33333333333 + s2 * (0.2 + s2 * (0.142857142857 + s2 * (0.111111111111 + s2 * (0.0909090909091 + s2 * (0.0769230769231 + s2 * (0.0666666666667 + s2 * 0.0588235294118))))));
  return 2.0 * (s + s * s2 * poly);
}

// ln(x) for x >= 0 (0 gives -inf), to a few ulp.
fn preciseLog(x: f32) -> f32 {
  if (x <= 0.0) { return params.negInf; }
  if (x > 3.0e38) { return log(x); }
  let parts = frexp(x);
  var m = parts.fract;
  var e = f32(parts.exp);
  if (m < 0.70710678) { m = m * 2.0; e = e - 1.0; }
  let s = (m - 1.0) / (m + 1.0);
  return e * LN2_HI + (e * LN2_LO + atanh2(s));
}

// ln(1 + x) for x > -1, relative precision near 0.
fn log1pAcc(x: f32) -> f32 {
  if (x < -0.5 || x > 1.0) { return preciseLog(1.0 + x); }
  return atanh2(x / (2.0 + x));
}

// exp(x) - 1, relative precision near 0.
fn expm1Acc(x: f32) -> f32 {
  if (abs(x) > 0.34657359) { return exp(x) - 1.0; }
  return x * (1.0 + x * (0.5 + x * (0.166666666667 + x * (0.0416666666667 + x * (0.00833333333333 + x * (0.00138888888889 + x * (0.000198412698413 + x * (2.48015873016e-05 + x * 2.7557319224e-06))))))));
}

// -ln((1 - w) + w e^d), for 0 < w < 1, with w, 1 - w, ln w, ln(1 - w) given separately (no cancellation).
fn negLogMix(w: f32, oneMinusW: f32, logW: f32, log1mW: f32, d: f32) -> f32 {
  if (logW + d > 0.0) {
    return -(logW + d + log1pAcc(exp(log1mW - logW - d)));
  }
  let x = w * expm1Acc(d);
  if (x < -0.5) { return -preciseLog(oneMinusW + w * safeExp(d)); }
  return -log1pAcc(x);
}

// Generalised JSD(beta) of one atom: (beta p ln(p/m) + (1-beta) q ln(q/m), q ln(q/m)), m = beta p + (1-beta) q.
fn jsdAtom(lp: f32, lq: f32, p: f32, q: f32) -> vec2<f32> {
  if (q == 0.0) {
    if (p == 0.0) { return vec2<f32>(0.0, 0.0); }
    return vec2<f32>(params.beta * p * (-params.logBeta), 0.0);
  }
  if (p == 0.0) {
    let dS0 = -params.log1mBeta;
    return vec2<f32>(params.oneMinusBeta * q * dS0, q * dS0);
  }
  let d = lp - lq;
  let dS = negLogMix(params.beta, params.oneMinusBeta, params.logBeta, params.log1mBeta, d);
  let dT = negLogMix(params.oneMinusBeta, params.beta, params.log1mBeta, params.logBeta, -d);
  return vec2<f32>(params.beta * p * dT + params.oneMinusBeta * q * dS, q * dS);
}

// ln(q/m) of one atom with q > 0 (the JSD gradient's per-token coefficient).
fn jsdLogQOverM(lp: f32, lq: f32, p: f32) -> f32 {
  if (p == 0.0) { return -params.log1mBeta; }
  return negLogMix(params.beta, params.oneMinusBeta, params.logBeta, params.log1mBeta, lp - lq);
}

// A sum of exp((x − mOld)·invT) re-based to exp((x − mNew)·invT), mNew >= mOld.
fn rescale(sum: f32, mOld: f32, mNew: f32, invT: f32) -> f32 {
  return select(sum * safeExp((mOld - mNew) * invT), sum, mOld == mNew);
}

// Online log-sum-exp state of a set of logits: (max, Σ exp((x − max)·invT), Σ exp(x − max)), the
// second sum kept for the hard term at T = 1 (0 where unused). Every row kernel (softmax,
// cross-entropy, the KD divergences) builds and merges its row normalisers through these two.
fn lseRescale(a: vec3<f32>, m: f32, invT: f32) -> vec3<f32> {
  return vec3<f32>(m, rescale(a.y, a.x, m, invT), rescale(a.z, a.x, m, 1.0));
}
fn lseMerge(a: vec3<f32>, b: vec3<f32>, invT: f32) -> vec3<f32> {
  let m = max(a.x, b.x);
  return vec3<f32>(m, lseRescale(a, m, invT).yz + lseRescale(b, m, invT).yz);
}
// The merge at the launch's temperature, for workgroupReduce({ op: { combine: 'lseCombine' } }).
fn lseCombine(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> { return lseMerge(a, b, params.invT); }


fn raiseFlag(bit: u32, row: u32) {
  atomicOr(&summary[0], 1u << bit);
  atomicMin(&summary[2u + bit], row);
}


const WG: u32 = 64u;

// The row's online log-sum-exp states (max, Σ at 1/T, Σ at T = 1): student and (dense) teacher.

struct Merged { z: vec3<f32>, t: vec3<f32> };


fn mergeInto(acc: ptr<function, Merged>, base: u32) {

  (*acc).z = lseMerge((*acc).z, vec3<f32>(partials[base + 0u], partials[base + 1u], partials[base + 2u]), params.invT);

}

// Writes the student part of the row stats and handles the label; returns (isActive, hard, zOk).
fn studentRow(row: u32, lrow: u32, m: Merged) -> vec3<f32> {
  let o = row * 16u;
  let zOk = m.z.y > 0.0;
  let zLogZ = preciseLog(m.z.y);
  var zs1 = m.z.z;
  if (params.needT1 == 0u) { zs1 = m.z.y; }
  let zLogZ1 = preciseLog(zs1);
  rowstats[o + 0u] = m.z.x;
  rowstats[o + 1u] = zLogZ;
  rowstats[o + 2u] = zLogZ1;
  rowstats[o + 12u] = select(0.0, 1.0, zOk);
  var isActive = true;
  var hard = 0.0;

  if (isActive) { atomicAdd(&summary[1], 1u); }
  rowstats[o + 5u] = select(0.0, 1.0, isActive);
  rowstats[o + 6u] = hard;
  return vec3<f32>(select(0.0, 1.0, isActive), hard, select(0.0, 1.0, zOk));
}


var<workgroup> rowInfo: vec4<f32>;
var<workgroup> wgLseScratch: array<vec3<f32>, 64>;
fn wgLse(lid: u32, value: vec3<f32>) -> vec3<f32> {
  wgLseScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { wgLseScratch[lid] = lseCombine(wgLseScratch[lid], wgLseScratch[lid + s]); }
    workgroupBarrier();
  }
  let result = wgLseScratch[0];
  workgroupBarrier();
  return result;
}


var<workgroup> wgMaxScratch: array<f32, 64>;
fn wgMax(lid: u32, value: f32) -> f32 {
  wgMaxScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { wgMaxScratch[lid] = max(wgMaxScratch[lid], wgMaxScratch[lid + s]); }
    workgroupBarrier();
  }
  let result = wgMaxScratch[0];
  workgroupBarrier();
  return result;
}

var<workgroup> wgSumScratch: array<f32, 64>;
fn wgSum(lid: u32, value: f32) -> f32 {
  wgSumScratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { wgSumScratch[lid] = wgSumScratch[lid] + wgSumScratch[lid + s]; }
    workgroupBarrier();
  }
  let result = wgSumScratch[0];
  workgroupBarrier();
  return result;
}

var<workgroup> wgSum2Scratch: array<vec2<f32>, 64>;
fn wgSum2(lid: u32, value: vec2<f32>) -> vec2<f32> {
  wgSum2Scratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { wgSum2Scratch[lid] = wgSum2Scratch[lid] + wgSum2Scratch[lid + s]; }
    workgroupBarrier();
  }
  let result = wgSum2Scratch[0];
  workgroupBarrier();
  return result;
}

var<workgroup> wgSum3Scratch: array<vec3<f32>, 64>;
fn wgSum3(lid: u32, value: vec3<f32>) -> vec3<f32> {
  wgSum3Scratch[lid] = value;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { wgSum3Scratch[lid] = wgSum3Scratch[lid] + wgSum3Scratch[lid + s]; }
    workgroupBarrier();
  }
  let result = wgSum3Scratch[0];
  workgroupBarrier();
  return result;
}


// 1: a support atom; 0: dropped (truncated, or a flagged bad index).
fn kept(idx: i32) -> bool {
  if (idx < 0) { return false; }
  if (u32(idx) < params.vocab) { return true; }
  return params.topkMismatch == 2u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lrow = wid.x + wid.y * nwg.x;
  if (lrow >= params.rows) { return; }
  let row = params.rowBase + lrow;
  let k = params.k;
  let invT = params.invT;
  let zRow = lrow * params.zStride + params.zShift;

  // Student log-normalisers.
  var m = Merged(vec3<f32>(SENTINEL, 0.0, 0.0), vec3<f32>(SENTINEL, 0.0, 0.0));
  for (var c = lid; c < params.nChunks; c += WG) {
    mergeInto(&m, (row * params.nChunks + c) * 8u);
  }
  let merged = Merged(wgLse(lid, m.z), m.t);
  if (lid == 0u) {
    let s0 = studentRow(row, lrow, merged);
    rowInfo = vec4<f32>(s0.x, s0.y, s0.z, 0.0);
  }
  let info = workgroupUniformLoad(&rowInfo);
  let zOk = info.z > 0.0;
  let zm = merged.z.x;
  let zLogZ = preciseLog(merged.z.y);

  // Teacher atoms: validate, tempered max, kept and dropped mass at T = 1.
  var aMax = SENTINEL;
  var keptMass = 0.0;
  var droppedMass = 0.0;
  for (var i = lid; i < k; i += WG) {
    let idx = topIdx[row * k + i];
    let lp0 = topLogp[row * k + i];
    let lpBits = bitcast<u32>(lp0);
    if (((lpBits & 0x7f800000u) == 0x7f800000u) && (lpBits != 0xff800000u)) { raiseFlag(1u, row); }
    if (lp0 > 1e-3) { raiseFlag(4u, row); }
    if (idx < 0 || (u32(idx) >= params.vocab && params.topkMismatch == 0u)) { raiseFlag(3u, row); }
    let lp = min(lp0, 0.0);
    if (kept(idx)) {
      aMax = max(aMax, lp * invT);
      keptMass += safeExp(lp);
    } else if (idx >= 0) {
      droppedMass += safeExp(lp);
    }
  }
  aMax = wgMax(lid, aMax);
  let masses = wgSum2(lid, vec2<f32>(keptMass, droppedMass));
  keptMass = masses.x;
  droppedMass = masses.y;

  var aTail = params.negInf;
  var rho = 0.0;


  let tm0 = tailMass[row];
  if (!(tm0 >= 0.0 && tm0 <= 1.0)) {
    if (lid == 0u) { raiseFlag(5u, row); }
  }
  rho = clamp(tm0, 0.0, 1.0) + droppedMass;

  if (rho > 0.0) { aTail = preciseLog(rho) * invT; }

  if (keptMass > 1.001 && lid == 0u) { raiseFlag(4u, row); }
  let aAll = max(aMax, select(SENTINEL, aTail, rho > 0.0));

  // Teacher log-normaliser over the atoms.
  var zt = 0.0;
  for (var i = lid; i < k; i += WG) {
    let idx = topIdx[row * k + i];
    if (kept(idx)) { zt += safeExp(min(topLogp[row * k + i], 0.0) * invT - aAll); }
  }
  zt = wgSum(lid, zt);
  if (rho > 0.0) { zt += safeExp(aTail - aAll); }
  let tOk = zt > 0.0;
  let tLogZ = aAll + preciseLog(zt);

  // Student support mass and the divergence over the support atoms.
  var support = 0.0;
  var dSum = 0.0;
  var kSum = 0.0;
  for (var i = lid; i < k; i += WG) {
    let idx = topIdx[row * k + i];
    if (kept(idx)) {
      let lp = min(topLogp[row * k + i], 0.0) * invT - tLogZ;
      let p = safeExp(lp);
      var lq = params.negInf;
      if (u32(idx) < params.vocab) {
        let zrel = (f32(zIn[zRow + u32(idx)]) - zm) * invT;
        support += safeExp(zrel);
        lq = zrel - zLogZ;
      }
      let q = safeExp(lq);

      dSum += select(p * (lp - lq), 0.0, p == 0.0);

    }
  }
  let sums = wgSum3(lid, vec3<f32>(support, dSum, kSum));
  support = sums.x;
  dSum = sums.y;
  kSum = sums.z;

  if (lid == 0u) {
    let o = row * 16u;
    // Student mass outside the support (the tail bucket's q).
    let qTail = max(0.0, (merged.z.y - support) / merged.z.y);
    let lqTail = preciseLog(qTail);
    var d = dSum;
    var kk = kSum;
    var cOff = 0.0;

    let lpTail = aTail - tLogZ;
    let pTail = select(0.0, safeExp(lpTail), rho > 0.0);

    d += select(pTail * (lpTail - lqTail), 0.0, pTail == 0.0);
    cOff = select(0.0, 1.0 - pTail / qTail, qTail > 0.0);



    let softOk = tOk && zOk;
    let gradOk = softOk && (true || d < params.posInf);
    rowstats[o + 3u] = aAll;
    rowstats[o + 4u] = tLogZ;
    rowstats[o + 7u] = d;
    rowstats[o + 8u] = kk;
    rowstats[o + 9u] = cOff;
    rowstats[o + 10u] = select(0.0, 1.0, softOk);
    rowstats[o + 11u] = select(0.0, 1.0, gradOk);
  }
}

