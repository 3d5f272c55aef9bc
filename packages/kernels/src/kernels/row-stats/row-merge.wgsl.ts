import { wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';
import { FLAG, PARTIAL, PARTIAL_WORDS, ROW, ROW_WORDS, SUMMARY } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import { accDecls, Bindings, enables, FLAG_WGSL, MATH_WGSL, RKL_WGSL, type FloatDType } from '../../shared/wgsl-lib.js';

export type Divergence = 'forward-kl' | 'reverse-kl' | 'jsd';
export type TailMode = 'ignore' | 'bucket';

export interface RowMergeVariant {
  /** What the soft term compares the student with. */
  teacher: 'none' | 'dense' | 'topk';
  /** Labels bound (hard term / ignore-index rows). */
  labels: boolean;
  /** Student dtype, for the label and top-k gathers. */
  student: FloatDType;
  /** Top-k, and dense reverse KL (D from row-stats' online sums). */
  divergence: Divergence;
  tail: TailMode;
  tailMass: boolean;
  /** Threads per workgroup: rows per workgroup (dense / student-only), or threads per row (top-k). */
  workgroupSize: number;
}

const bit = (flag: number) => Math.log2(flag);

/**
 * Pass 2: one result per row. Merges the chunk partials into the row's log-normalisers, handles
 * the label (ignore-index, range check, cross-entropy at T = 1, active-row count) and, for a
 * top-k teacher, the whole divergence over the support atoms (and the tail bucket) with the
 * gradient coefficient of the tokens outside the support.
 * Dense and student-only rows use one thread per row; top-k rows one workgroup per row.
 */
export function rowMergeWgsl(v: RowMergeVariant): string {
  const topk = v.teacher === 'topk';
  const dense = v.teacher === 'dense';
  const gather = v.labels || topk;
  const bucket = v.tail === 'bucket';
  const fwd = v.divergence === 'forward-kl';
  const rev = v.divergence === 'reverse-kl';
  const jsd = v.divergence === 'jsd';
  const revDense = dense && rev;
  const b = new Bindings().add('partials', 'array<f32>', 'read').add('rowstats', 'array<f32>', 'read_write').addSummary();
  if (gather) b.add('zIn', `array<${v.student}>`, 'read');
  if (v.labels) b.add('labels', 'array<i32>', 'read');
  if (topk) b.add('topIdx', 'array<i32>', 'read').add('topLogp', 'array<f32>', 'read');
  if (topk && v.tailMass) b.add('tailMass', 'array<f32>', 'read');
  return wgsl`${enables([gather ? v.student : undefined])}
${PARAMS_WGSL}
${b}
${accDecls(false)}
${MATH_WGSL}
${FLAG_WGSL}
${revDense ? RKL_WGSL : ''}
const WG: u32 = ${v.workgroupSize}u;

// The row's online log-sum-exp states (max, Σ at 1/T, Σ at T = 1): student and (dense) teacher.
#if ${revDense}
// r: reverse KL's online state at the maxima z.x and t.x (RKL_WGSL).
struct Merged { z: vec3<f32>, t: vec3<f32>, r: vec3<f32> };
#else
struct Merged { z: vec3<f32>, t: vec3<f32> };
#endif

fn mergeInto(acc: ptr<function, Merged>, base: u32) {
#if ${revDense}
  let r = vec3<f32>(partials[base + ${PARTIAL.rklSum}u], partials[base + ${PARTIAL.rklKept}u], partials[base + ${PARTIAL.rklMaskedMax}u]);
  (*acc).r = rklMerge((*acc).r, (*acc).z.x, (*acc).t.x, r, partials[base + ${PARTIAL.zMax}u], partials[base + ${PARTIAL.tMax}u], params.invT);
#endif
  (*acc).z = lseMerge((*acc).z, vec3<f32>(partials[base + ${PARTIAL.zMax}u], partials[base + ${PARTIAL.zSum}u], partials[base + ${PARTIAL.zSum1}u]), params.invT);
#if ${dense}
  (*acc).t = lseMerge((*acc).t, vec3<f32>(partials[base + ${PARTIAL.tMax}u], partials[base + ${PARTIAL.tSum}u], 0.0), params.invT);
#endif
}

// Writes the student part of the row stats and handles the label; returns (isActive, hard, zOk).
fn studentRow(row: u32, lrow: u32, m: Merged) -> vec3<f32> {
  let o = row * ${ROW_WORDS}u;
  let zOk = m.z.y > 0.0;
  let zLogZ = preciseLog(m.z.y);
  var zs1 = m.z.z;
  if (params.needT1 == 0u) { zs1 = m.z.y; }
  let zLogZ1 = preciseLog(zs1);
  rowstats[o + ${ROW.zMax}u] = m.z.x;
  rowstats[o + ${ROW.zLogZ}u] = zLogZ;
  rowstats[o + ${ROW.zLogZ1}u] = zLogZ1;
  rowstats[o + ${ROW.zOk}u] = select(0.0, 1.0, zOk);
  var isActive = true;
  var hard = 0.0;
#if ${v.labels}
  let y = labels[row];
  isActive = y != params.ignoreIndex;
  if (isActive && (y < 0 || y >= i32(params.vocab))) {
    raiseFlag(${bit(FLAG.labelRange)}u, row);
    isActive = false;
  }
  if (isActive && zOk) {
    let zy = f32(zIn[lrow * params.zStride + params.zShift + u32(y)]);
    hard = zLogZ1 - (zy - m.z.x);
  }
#endif
  if (isActive) { atomicAdd(&summary[${SUMMARY.count}], 1u); }
  rowstats[o + ${ROW.active}u] = select(0.0, 1.0, isActive);
  rowstats[o + ${ROW.hard}u] = hard;
  return vec3<f32>(select(0.0, 1.0, isActive), hard, select(0.0, 1.0, zOk));
}

#if ${!topk}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lrow = (wid.x + wid.y * nwg.x) * WG + lid;
  if (lrow >= params.rows) { return; }
  let row = params.rowBase + lrow;
#if ${revDense}
  var m = Merged(vec3<f32>(SENTINEL, 0.0, 0.0), vec3<f32>(SENTINEL, 0.0, 0.0), vec3<f32>(0.0, 0.0, SENTINEL));
#else
  var m = Merged(vec3<f32>(SENTINEL, 0.0, 0.0), vec3<f32>(SENTINEL, 0.0, 0.0));
#endif
  for (var c = 0u; c < params.nChunks; c++) {
    mergeInto(&m, (row * params.nChunks + c) * ${PARTIAL_WORDS}u);
  }
  let s = studentRow(row, lrow, m);
  let o = row * ${ROW_WORDS}u;
#if ${dense}
  let tOk = m.t.y > 0.0;
  rowstats[o + ${ROW.tMax}u] = m.t.x;
  rowstats[o + ${ROW.tLogZ}u] = preciseLog(m.t.y);
  let softOk = tOk && s.z > 0.0;
#else
  let softOk = false;
#endif
#if ${revDense}
  // D = Σ q (z − t)/T − (zMax − tMax)/T − ln Z_z + ln Z_t = S/(Z T) − ln Z_z + ln Z_t (RKL_WGSL).
  let zLogZ = preciseLog(m.z.y);
  var d = m.r.x / m.z.y * params.invT - zLogZ + preciseLog(m.t.y);
  // A token the teacher masks whose q > 0 (q as the gradient pass recomputes it): KL(q ‖ p) = +inf.
  if (safeExp((m.r.z - m.z.x) * params.invT - zLogZ) > 0.0) { d = params.posInf; }
  rowstats[o + ${ROW.softOk}u] = select(0.0, 1.0, softOk);
  // ln(q/p) − D is undefined where D = +inf: such a row gets no soft gradient (its loss is +inf).
  rowstats[o + ${ROW.softGradOk}u] = select(0.0, 1.0, softOk && d < params.posInf);
  rowstats[o + ${ROW.div}u] = d;
  rowstats[o + ${ROW.k}u] = d;
#else
  rowstats[o + ${ROW.softOk}u] = select(0.0, 1.0, softOk);
  rowstats[o + ${ROW.softGradOk}u] = select(0.0, 1.0, softOk);
  rowstats[o + ${ROW.div}u] = 0.0;
  rowstats[o + ${ROW.k}u] = 0.0;
#endif
  rowstats[o + ${ROW.cOff}u] = 0.0;
}
#else
var<workgroup> rowInfo: vec4<f32>;
${workgroupReduce({ name: 'wgLse', op: { combine: 'lseCombine' }, type: 'vec3<f32>', workgroupSize: v.workgroupSize })}

${workgroupReduce({ name: 'wgMax', op: 'max', workgroupSize: v.workgroupSize })}
${workgroupReduce({ name: 'wgSum', op: 'sum', workgroupSize: v.workgroupSize })}
${workgroupReduce({ name: 'wgSum2', op: 'sum', type: 'vec2<f32>', workgroupSize: v.workgroupSize })}
${workgroupReduce({ name: 'wgSum3', op: 'sum', type: 'vec3<f32>', workgroupSize: v.workgroupSize })}

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
    mergeInto(&m, (row * params.nChunks + c) * ${PARTIAL_WORDS}u);
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
    if (((lpBits & 0x7f800000u) == 0x7f800000u) && (lpBits != 0xff800000u)) { raiseFlag(${bit(FLAG.teacherNonFinite)}u, row); }
    if (lp0 > 1e-3) { raiseFlag(${bit(FLAG.logprobRange)}u, row); }
    if (idx < 0 || (u32(idx) >= params.vocab && params.topkMismatch == 0u)) { raiseFlag(${bit(FLAG.indexRange)}u, row); }
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
#if ${bucket}
#if ${v.tailMass}
  let tm0 = tailMass[row];
  if (!(tm0 >= 0.0 && tm0 <= 1.0)) {
    if (lid == 0u) { raiseFlag(${bit(FLAG.tailRange)}u, row); }
  }
  rho = clamp(tm0, 0.0, 1.0) + droppedMass;
#else
  rho = max(0.0, 1.0 - keptMass);
#endif
  if (rho > 0.0) { aTail = preciseLog(rho) * invT; }
#endif
  if (keptMass > 1.001 && lid == 0u) { raiseFlag(${bit(FLAG.logprobRange)}u, row); }
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
#if ${fwd}
      dSum += select(p * (lp - lq), 0.0, p == 0.0);
#elif ${rev}
      dSum += select(q * (lq - lp), 0.0, q == 0.0);
#else
      let r = jsdAtom(lp, lq, p, q);
      dSum += r.x;
      kSum += r.y;
#endif
    }
  }
  let sums = wgSum3(lid, vec3<f32>(support, dSum, kSum));
  support = sums.x;
  dSum = sums.y;
  kSum = sums.z;

  if (lid == 0u) {
    let o = row * ${ROW_WORDS}u;
    // Student mass outside the support (the tail bucket's q).
    let qTail = max(0.0, (merged.z.y - support) / merged.z.y);
    let lqTail = preciseLog(qTail);
    var d = dSum;
    var kk = kSum;
    var cOff = 0.0;
#if ${bucket}
    let lpTail = aTail - tLogZ;
    let pTail = select(0.0, safeExp(lpTail), rho > 0.0);
#if ${fwd}
    d += select(pTail * (lpTail - lqTail), 0.0, pTail == 0.0);
    cOff = select(0.0, 1.0 - pTail / qTail, qTail > 0.0);
#elif ${rev}
    d += select(qTail * (lqTail - lpTail), 0.0, qTail == 0.0);
    cOff = select(0.0, lqTail - lpTail - d, qTail > 0.0 && pTail > 0.0);
#else
    let r = jsdAtom(lpTail, lqTail, pTail, qTail);
    d += r.x;
    kk += r.y;
    cOff = select(0.0, params.oneMinusBeta * (jsdLogQOverM(lpTail, lqTail, pTail) - kk), qTail > 0.0);
#endif
#else
#if ${fwd}
    cOff = 1.0;
#elif ${jsd}
    // Tokens outside the support have p = 0, so ln(q/m) = −ln(1 − β) for each.
    d += params.oneMinusBeta * qTail * (-params.log1mBeta);
    kk += qTail * (-params.log1mBeta);
    cOff = params.oneMinusBeta * (-params.log1mBeta - kk);
#endif
#endif
#if ${rev}
    kk = d;
#endif
    let softOk = tOk && zOk;
    let gradOk = softOk && (${fwd} || d < params.posInf);
    rowstats[o + ${ROW.tMax}u] = aAll;
    rowstats[o + ${ROW.tLogZ}u] = tLogZ;
    rowstats[o + ${ROW.div}u] = d;
    rowstats[o + ${ROW.k}u] = kk;
    rowstats[o + ${ROW.cOff}u] = cOff;
    rowstats[o + ${ROW.softOk}u] = select(0.0, 1.0, softOk);
    rowstats[o + ${ROW.softGradOk}u] = select(0.0, 1.0, gradOk);
  }
}
#endif
`;
}
