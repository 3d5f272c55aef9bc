// row-merge {"divergence":"reverse-kl","labels":true,"student":"f32","tail":"ignore","tailMass":false,"teacher":"dense","workgroupSize":64}

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
@group(0) @binding(5) var<storage, read> labels: array<i32>;
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


// r re-centred from the maxima (zOld, tOld) to (zNew, tNew), zNew >= zOld and tNew >= tOld.
fn rklRecentre(r: vec3<f32>, zOld: f32, tOld: f32, zNew: f32, tNew: f32, invT: f32) -> vec3<f32> {
  let s = r.x - r.y * ((zNew - zOld) - (tNew - tOld));
  return vec3<f32>(rescale(s, zOld, zNew, invT), rescale(r.y, zOld, zNew, invT), r.z);
}
// Two states at their own maxima (zA, tA) and (zB, tB), merged at the larger ones.
fn rklMerge(a: vec3<f32>, zA: f32, tA: f32, b: vec3<f32>, zB: f32, tB: f32, invT: f32) -> vec3<f32> {
  let z = max(zA, zB);
  let t = max(tA, tB);
  let ra = rklRecentre(a, zA, tA, z, t, invT);
  let rb = rklRecentre(b, zB, tB, z, t, invT);
  return vec3<f32>(ra.x + rb.x, ra.y + rb.y, max(a.z, b.z));
}

const WG: u32 = 64u;

// The row's online log-sum-exp states (max, Σ at 1/T, Σ at T = 1): student and (dense) teacher.

// r: reverse KL's online state at the maxima z.x and t.x (RKL_WGSL).
struct Merged { z: vec3<f32>, t: vec3<f32>, r: vec3<f32> };


fn mergeInto(acc: ptr<function, Merged>, base: u32) {

  let r = vec3<f32>(partials[base + 5u], partials[base + 6u], partials[base + 7u]);
  (*acc).r = rklMerge((*acc).r, (*acc).z.x, (*acc).t.x, r, partials[base + 0u], partials[base + 3u], params.invT);

  (*acc).z = lseMerge((*acc).z, vec3<f32>(partials[base + 0u], partials[base + 1u], partials[base + 2u]), params.invT);

  (*acc).t = lseMerge((*acc).t, vec3<f32>(partials[base + 3u], partials[base + 4u], 0.0), params.invT);

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

  let y = labels[row];
  isActive = y != params.ignoreIndex;
  if (isActive && (y < 0 || y >= i32(params.vocab))) {
    raiseFlag(2u, row);
    isActive = false;
  }
  if (isActive && zOk) {
    let zy = f32(zIn[lrow * params.zStride + params.zShift + u32(y)]);
    hard = zLogZ1 - (zy - m.z.x);
  }

  if (isActive) { atomicAdd(&summary[1], 1u); }
  rowstats[o + 5u] = select(0.0, 1.0, isActive);
  rowstats[o + 6u] = hard;
  return vec3<f32>(select(0.0, 1.0, isActive), hard, select(0.0, 1.0, zOk));
}


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lrow = (wid.x + wid.y * nwg.x) * WG + lid;
  if (lrow >= params.rows) { return; }
  let row = params.rowBase + lrow;

  var m = Merged(vec3<f32>(SENTINEL, 0.0, 0.0), vec3<f32>(SENTINEL, 0.0, 0.0), vec3<f32>(0.0, 0.0, SENTINEL));

  for (var c = 0u; c < params.nChunks; c++) {
    mergeInto(&m, (row * params.nChunks + c) * 8u);
  }
  let s = studentRow(row, lrow, m);
  let o = row * 16u;

  let tOk = m.t.y > 0.0;
  rowstats[o + 3u] = m.t.x;
  rowstats[o + 4u] = preciseLog(m.t.y);
  let softOk = tOk && s.z > 0.0;


  // D = Σ q (z − t)/T − (zMax − tMax)/T − ln Z_z + ln Z_t = S/(Z T) − ln Z_z + ln Z_t (RKL_WGSL).
  let zLogZ = preciseLog(m.z.y);
  var d = m.r.x / m.z.y * params.invT - zLogZ + preciseLog(m.t.y);
  // A token the teacher masks whose q > 0 (q as the gradient pass recomputes it): KL(q ‖ p) = +inf.
  if (safeExp((m.r.z - m.z.x) * params.invT - zLogZ) > 0.0) { d = params.posInf; }
  rowstats[o + 10u] = select(0.0, 1.0, softOk);
  // ln(q/p) − D is undefined where D = +inf: such a row gets no soft gradient (its loss is +inf).
  rowstats[o + 11u] = select(0.0, 1.0, softOk && d < params.posInf);
  rowstats[o + 7u] = d;
  rowstats[o + 8u] = d;

  rowstats[o + 9u] = 0.0;
}

