// row-stats {"student":"f16","t1":2,"teacher":"f16","vec4":true,"workgroupSize":256}

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
@group(0) @binding(1) var<storage, read> zIn: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> tIn: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> summary: array<atomic<u32>, 16>;
alias Acc = vec4<f32>;
alias UAcc = vec4<u32>;
const W: u32 = 4u;
fn hmax(v: Acc) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn hsum(v: Acc) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn lane(v: Acc, i: u32) -> f32 { return v[i]; }
fn laneIds() -> vec4<u32> { return vec4<u32>(0u, 1u, 2u, 3u); }
// f16 pairs → f32 with integer ops (exact, incl. subnormals, ±inf, NaN): cheaper than unpack2x16float on CPU adapters.
fn unpackH4(w: vec2<u32>) -> Acc {
  let h = vec4<u32>(w.x & 0xffffu, w.x >> 16u, w.y & 0xffffu, w.y >> 16u);
  let em = h & vec4<u32>(0x7fffu);
  var bits = (em << vec4<u32>(13u)) + vec4<u32>(0x38000000u);
  bits = select(bits, bits + vec4<u32>(0x38000000u), em >= vec4<u32>(0x7c00u));
  bits = select(bits, bitcast<vec4<u32>>(vec4<f32>(em) * 5.9604645e-8), em < vec4<u32>(0x400u));
  return bitcast<Acc>(bits | ((h & vec4<u32>(0x8000u)) << vec4<u32>(16u)));
}
// f32 → f16 pairs, round to nearest even (overflow → ±inf, NaN kept, subnormals exact).
fn packH4(v: Acc) -> vec2<u32> {
  let b = bitcast<vec4<u32>>(v);
  let a = b & vec4<u32>(0x7fffffffu);
  var h = (a + vec4<u32>(0xc8000fffu) + ((a >> vec4<u32>(13u)) & vec4<u32>(1u))) >> vec4<u32>(13u);
  h = select(h, vec4<u32>(0x7c00u), a >= vec4<u32>(0x477ff000u));
  h = select(h, vec4<u32>(0x7e00u), a > vec4<u32>(0x7f800000u));
  h = select(h, vec4<u32>(round(abs(v) * 16777216.0)), a < vec4<u32>(0x38800000u));
  h = h | ((b >> vec4<u32>(16u)) & vec4<u32>(0x8000u));
  return vec2<u32>(h.x | (h.y << 16u), h.z | (h.w << 16u));
}
fn anyBad(v: Acc) -> bool {
  let bits = bitcast<vec4<u32>>(v);
  return any(((bits & vec4<u32>(0x7f800000u)) == vec4<u32>(0x7f800000u)) & (bits != vec4<u32>(0xff800000u)));
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

// e^2: the T = 1 term from the tempered one (T = 2).
fn powT1(e: Acc) -> Acc {
  let e2 = e * e;
  return e2;
}


const WG: u32 = 256u;

// The student's and the teacher's online log-sum-exp states, merged in one workgroup reduction.
struct StudentTeacher { z: vec3<f32>, t: vec3<f32> };
fn mergeStudentTeacher(a: StudentTeacher, b: StudentTeacher) -> StudentTeacher {
  return StudentTeacher(lseCombine(a.z, b.z), lseCombine(a.t, b.t));
}
var<workgroup> mergeRowScratch: array<StudentTeacher, 256>;
fn mergeRow(lid: u32, value: StudentTeacher) -> StudentTeacher {
  mergeRowScratch[lid] = value;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
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


  for (var c = rc.c0 + lid * W; c < rc.c1; c += WG * W) {
    let i = c / W;

    if (c < params.vocab) {
      let z = unpackH4(zIn[zBase + i]);
      zBad = zBad || anyBad(z);
      // Rescale only when the running max grows (rare after the first steps: saves an exp per step).
      let m = hmax(z);

      if (m > zl.x) { zl = lseRescale(zl, m, invT); }

      let e = safeExpAcc((z - Acc(zl.x)) * invT);
      zl.y += hsum(e);

      // exp(z − m) for the hard term: the tempered term's power at an integer T (one exp per
      // element, not two), its own exp otherwise; none at T = 1 (the two sums coincide). Chosen at
      // compile time: a CPU adapter runs both sides of a runtime branch.

      zl.z += hsum(powT1(e));

    }

    if (c < params.tCols) {
      let t = unpackH4(tIn[tBase + i]);
      tBad = tBad || anyBad(t);
      let m = hmax(t);

      if (m > tl.x) { tl = lseRescale(tl, m, invT); }

      tl.y += hsum(safeExpAcc((t - Acc(tl.x)) * invT));
    }

  }
  if (zBad) { raiseFlag(0u, rc.row); }

  if (tBad) { raiseFlag(1u, rc.row); }
  let merged = mergeRow(lid, StudentTeacher(zl, tl));
  let zRow = merged.z;
  let tRow = merged.t;

  if (lid == 0u) {
    let o = (rc.row * params.nChunks + rc.chunk) * 8u;
    partials[o + 0u] = zRow.x;
    partials[o + 1u] = zRow.y;
    partials[o + 2u] = zRow.z;

    partials[o + 3u] = tRow.x;
    partials[o + 4u] = tRow.y;


  }
}
