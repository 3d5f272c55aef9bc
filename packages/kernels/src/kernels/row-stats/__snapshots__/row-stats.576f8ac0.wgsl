// row-stats {"reverseKl":true,"student":"f16","t1":"same","teacher":"f32","vec4":false,"workgroupSize":8}
enable f16;

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
@group(0) @binding(1) var<storage, read> zIn: array<f16>;
@group(0) @binding(2) var<storage, read> tIn: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> summary: array<atomic<u32>, 16>;
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


struct RowChunk { lrow: u32, row: u32, chunk: u32, c0: u32, c1: u32 };
fn rowChunk(wid: vec3<u32>, nwg: vec3<u32>, cols: u32) -> RowChunk {
  let g = wid.x + wid.y * nwg.x;
  let lrow = g / params.nChunks;
  let chunk = g - lrow * params.nChunks;
  let c0 = chunk * params.chunk;
  return RowChunk(lrow, params.rowBase + lrow, chunk, c0, min(c0 + params.chunk, cols));
}


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

const WG: u32 = 8u;

// Also reverse KL's state r at the maxima z.x and t.x.
struct StudentTeacher { z: vec3<f32>, t: vec3<f32>, r: vec3<f32> };
fn mergeStudentTeacher(a: StudentTeacher, b: StudentTeacher) -> StudentTeacher {
  let r = rklMerge(a.r, a.z.x, a.t.x, b.r, b.z.x, b.t.x, params.invT);
  return StudentTeacher(lseCombine(a.z, b.z), lseCombine(a.t, b.t), r);
}
var<workgroup> mergeRowScratch: array<StudentTeacher, 8>;
fn mergeRow(lid: u32, value: StudentTeacher) -> StudentTeacher {
  mergeRowScratch[lid] = value;
  workgroupBarrier();
  for (var s = 4u; s > 0u; s = s >> 1u) {
    if (lid < s) { mergeRowScratch[lid] = mergeStudentTeacher(mergeRowScratch[lid], mergeRowScratch[lid + s]); }
    workgroupBarrier();
  }
  let result = mergeRowScratch[0];
  workgroupBarrier();
  return result;
}



@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rc = rowChunk(wid, nwg, params.cols);
  if (rc.lrow >= params.rows) { return; }
  let invT = params.invT;
  let zBase = (rc.lrow * params.zStride + params.zShift) / W;
  // (max, Σ at 1/T, Σ at T = 1); the teacher needs no T = 1 sum.
  var zl = vec3<f32>(SENTINEL, 0.0, 0.0);
  var zBad = false;

  let tBase = (rc.lrow * params.tStride + params.tShift) / W;
  var tl = vec3<f32>(SENTINEL, 0.0, 0.0);
  var tBad = false;


  var r = vec3<f32>(0.0, 0.0, SENTINEL);

  for (var c = rc.c0 + lid * W; c < rc.c1; c += WG * W) {
    let i = c / W;

    var tv = Acc(params.negInf);
    if (c < params.tCols) {
      let t = Acc(tIn[tBase + i]);
      tBad = tBad || anyBad(t);
      let m = hmax(t);

      if (m > tl.x) {
        r = rklRecentre(r, zl.x, tl.x, zl.x, m, invT);
        tl = lseRescale(tl, m, invT);
      }
      tv = t;

      tl.y += hsum(safeExpAcc((t - Acc(tl.x)) * invT));
    }

    if (c < params.vocab) {
      let z = Acc(zIn[zBase + i]);
      zBad = zBad || anyBad(z);
      // Rescale only when the running max grows (rare after the first steps: saves an exp per step).
      let m = hmax(z);

      if (m > zl.x) {
        r = rklRecentre(r, zl.x, tl.x, m, tl.x, invT);
        zl = lseRescale(zl, m, invT);
      }

      let e = safeExpAcc((z - Acc(zl.x)) * invT);
      zl.y += hsum(e);

      // A token the teacher masks (t = −inf) stays out of the sums; whether its q > 0 (D = +inf) is
      // decided in the merge from the largest such z.
      let tMasked = tv == Acc(params.negInf);
      let eKept = select(e, Acc(0.0), tMasked);
      r += vec3<f32>(
        hsum(select(e * ((z - Acc(zl.x)) - (tv - Acc(tl.x))), Acc(0.0), tMasked | (e == Acc(0.0)))),
        hsum(eKept),
        0.0,
      );
      r.z = max(r.z, hmax(select(Acc(SENTINEL), z, tMasked)));

      // exp(z − m) for the hard term: the tempered term's power at an integer T (one exp per
      // element, not two), its own exp otherwise; none at T = 1 (the two sums coincide). Chosen at
      // compile time: a CPU adapter runs both sides of a runtime branch.

    }

  }
  if (zBad) { raiseFlag(0u, rc.row); }

  if (tBad) { raiseFlag(1u, rc.row); }
  let merged = mergeRow(lid, StudentTeacher(zl, tl, r));
  let zRow = merged.z;
  let tRow = merged.t;

  if (lid == 0u) {
    let o = (rc.row * params.nChunks + rc.chunk) * 8u;
    partials[o + 0u] = zRow.x;
    partials[o + 1u] = zRow.y;
    partials[o + 2u] = zRow.z;

    partials[o + 3u] = tRow.x;
    partials[o + 4u] = tRow.y;


    partials[o + 5u] = merged.r.x;
    partials[o + 6u] = merged.r.y;
    partials[o + 7u] = merged.r.z;

  }
}
