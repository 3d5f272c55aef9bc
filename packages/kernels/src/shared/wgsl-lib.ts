import { bindingsWgsl, declareBindings, type BindingDecl, type BindingTable } from '@distillery/webgpu/wgsl';
import { FLAG_COUNT, ROW, ROW_WORDS, SENTINEL, SUMMARY } from './layout.js';

// Accumulator aliases and f16 packing live in the WGSL kit; re-exported so the kernels keep one import.
export { accDecls, elementType, enables, loadAcc, storeAcc, type FloatDType } from '@distillery/webgpu/wgsl';

/**
 * Scalar math with the precision the losses need on every adapter. The builtin `log` may be off by
 * 2^-21 absolutely near 1 and `exp` may return a tiny non-zero value for −inf, so: `safeExp` is
 * exactly 0 below −87 (where f32 underflows anyway), `preciseLog` reduces to [√½, √2) and sums
 * the atanh series, and `log1pAcc`/`expm1Acc` keep their relative precision near 0 (the JSD near
 * β = 0 and β = 1 depends on it).
 */
export const MATH_WGSL = `
const SENTINEL: f32 = ${SENTINEL.toExponential()};
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
`;

/**
 * Dense reverse KL's online state next to the student's (max, Z) and the teacher's max (after
 * MATH_WGSL; only the reverse-KL variants include it, so the others keep their WGSL):
 * r = (S, K, M) with S = Σ e_i ((z_i − zMax) − (t_i − tMax)) and K = Σ e_i over the tokens the
 * teacher keeps (t_i > −inf), e_i = exp((z_i − zMax)/T), and M the largest z_i the teacher masks.
 * Then Σ q_i (z_i − t_i)/T − (zMax − tMax)/T = S / (Z T): centred on the maxima, large logits do not
 * cancel, and a growing max re-centres S with K (the differences of maxima are modest numbers).
 */
export const RKL_WGSL = `
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
`;

/**
 * How a streaming pass gets the hard term's T = 1 softmax next to the tempered one (a variant
 * field: CPU adapters run both sides of a branch under lane masks, so the choice is made at compile
 * time). 'same': no T = 1 term (T = 1, or no hard term); 'exp': its own exp; an integer n (T = n,
 * 2 ≤ n ≤ 8): the n-th power of the tempered term, exp((x − m)/T)^n = exp(x − m), no exp.
 */
export type T1Mode = 'same' | 'exp' | number;

/** The T1Mode of a launch: `needT1` is the uniform's flag (labels, a hard weight, T ≠ 1). */
export function t1Mode(needT1: boolean, temperature: number): T1Mode {
  if (!needT1) return 'same';
  return Number.isInteger(temperature) && temperature >= 2 && temperature <= 8 ? temperature : 'exp';
}

/** `fn powT1(e: Acc) -> Acc`: e^n by squaring (at most 4 multiplies for n ≤ 8). */
export function powT1Wgsl(mode: T1Mode): string {
  if (typeof mode !== 'number') return '';
  const squares = ['e'];
  for (let k = 2; k <= mode; k *= 2) squares.push(`e${k}`);
  const decls = squares.slice(1).map((name, i) => `  let ${name} = ${squares[i]} * ${squares[i]};`);
  const factors = squares.filter((_, i) => (mode >> i) & 1);
  return `// e^${mode}: the T = 1 term from the tempered one (T = ${mode}).
fn powT1(e: Acc) -> Acc {
${decls.join('\n')}
  return ${factors.reverse().join(' * ')};
}
`;
}

/**
 * The streaming passes run one workgroup per (row, chunk of columns), workgroups laid out 2-D when
 * there are more than 65,535: workgroup (wid, nwg)'s row in this launch's window (`lrow`; past the
 * last row when `lrow >= params.rows`), its global row, chunk and columns [c0, c1) of a row `cols` wide.
 */
export const ROW_CHUNK_WGSL = `
struct RowChunk { lrow: u32, row: u32, chunk: u32, c0: u32, c1: u32 };
fn rowChunk(wid: vec3<u32>, nwg: vec3<u32>, cols: u32) -> RowChunk {
  let g = wid.x + wid.y * nwg.x;
  let lrow = g / params.nChunks;
  let chunk = g - lrow * params.nChunks;
  let c0 = chunk * params.chunk;
  return RowChunk(lrow, params.rowBase + lrow, chunk, c0, min(c0 + params.chunk, cols));
}
`;

/**
 * The gradient passes' scales of a row: w_r · softScale / N and w_r · hardWeight / N (N the
 * normalizer, or the summary's active-row count where it is 0; w_r = 1 without row weights), and
 * whether each term is live (an active row, valid stats, a non-zero scale: a weight of 0 gives an
 * exactly-zero gradient, never 0 · inf). Reads the `rowstats` and `summary` bindings.
 */
export function gradScalesWgsl(rowWeights: boolean): string {
  return `
struct GradScales { soft: f32, hard: f32, softLive: bool, hardLive: bool };
fn gradScales(row: u32) -> GradScales {
  let o = row * ${ROW_WORDS}u;
  let isActive = rowstats[o + ${ROW.active}u] > 0.0;
  var n = params.normalizer;
  if (n <= 0.0) { n = f32(summary[${SUMMARY.count}]); }
  let invN = select(0.0, ${rowWeights ? 'rowWeights[row]' : '1.0'} / n, n > 0.0);
  let soft = params.softScale * invN;
  let hard = params.hardWeight * invN;
  let softLive = isActive && rowstats[o + ${ROW.softGradOk}u] > 0.0 && soft != 0.0;
  let hardLive = isActive && rowstats[o + ${ROW.zOk}u] > 0.0 && hard != 0.0;
  return GradScales(soft, hard, softLive, hardLive);
}
`;
}

/** Raises flag `bit` for `row` in the summary (rare: only bad input reaches it). */
export const FLAG_WGSL = `
fn raiseFlag(bit: u32, row: u32) {
  atomicOr(&summary[${SUMMARY.flags}], 1u << bit);
  atomicMin(&summary[${SUMMARY.firstRow}u + bit], row);
}
`;

const SUMMARY_BINDING: BindingDecl = { type: 'array<atomic<u32>, 16>', access: 'read_write' };

/** Host-side initial summary: flags 0, count 0, first rows "none". */
export function initialSummary(): Uint32Array<ArrayBuffer> {
  const data = new Uint32Array(16);
  for (let b = 0; b < FLAG_COUNT; b++) data[SUMMARY.firstRow + b] = 0xffffffff;
  return data;
}

/** A variant's storage bindings in order, declared by the kit (numbered from 1, after the uniforms). */
export class Bindings {
  readonly table: Record<string, BindingDecl> = {};

  add(name: string, type: string, access: 'read' | 'read_write'): this {
    this.table[name] = { type, access };
    return this;
  }

  addSummary(): this {
    this.table.summary = SUMMARY_BINDING;
    return this;
  }

  toString(): string {
    return bindingsWgsl(declareBindings(this.table as BindingTable, 1));
  }
}
