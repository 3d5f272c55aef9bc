import { wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';
import { FLAG, PARTIAL, PARTIAL_WORDS } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import {
  accDecls,
  Bindings,
  elementType,
  enables,
  FLAG_WGSL,
  loadAcc,
  MATH_WGSL,
  powT1Wgsl,
  RKL_WGSL,
  ROW_CHUNK_WGSL,
  type FloatDType,
  type T1Mode,
} from '../../shared/wgsl-lib.js';

export interface RowStatsVariant {
  student: FloatDType;
  /** dtype of a dense teacher read in the same pass, or null. */
  teacher: FloatDType | null;
  /** Load 4 columns per step (every row stride is a multiple of 4). */
  vec4: boolean;
  workgroupSize: number;
  /** How the student's T = 1 sum is made: 'same' (none: T = 1 or no hard term), 'exp', or T's integer power. */
  t1: T1Mode;
  /**
   * Dense reverse KL: also sum D's online terms (PARTIAL.rklSum…, `RKL_WGSL`), so the row merge
   * gives D and the divergence passes are not needed. Absent (not false) otherwise, so the other
   * variants keep their cache keys and snapshots.
   */
  reverseKl?: true;
}

const bit = (flag: number) => Math.log2(flag);

/**
 * Pass 1 of every row kernel. Workgroup (row, chunk) reduces its columns to online-softmax
 * partials: max of the raw logits and Σ exp((x − max)/T) (and at T = 1 for the hard term), for the
 * student and, when present, the dense teacher; it flags NaN/+Inf (−Inf is a mask). With
 * `reverseKl` it also sums reverse KL's online state (Σ q (z − t) re-based like Z; `RKL_WGSL`),
 * from which the row merge gives D = KL(q ‖ p) (docs/kernels.md, "Passes").
 */
export function rowStatsWgsl({ student, teacher, vec4, workgroupSize: wg, t1, reverseKl }: RowStatsVariant): string {
  const hasTeacher = teacher !== null;
  const rev = hasTeacher && Boolean(reverseKl);
  const b = new Bindings().add('zIn', `array<${elementType(student, vec4)}>`, 'read');
  if (hasTeacher) b.add('tIn', `array<${elementType(teacher, vec4)}>`, 'read');
  b.add('partials', 'array<f32>', 'read_write').addSummary();
  // The teacher's step: before the student's with reverse KL (which needs t there), after it otherwise.
  const teacherStep = wgsl`    if (c < params.tCols) {
      let t = ${loadAcc(teacher ?? 'f32', vec4, 'tIn[tBase + i]')};
      tBad = tBad || anyBad(t);
      let m = hmax(t);
#if ${rev}
      if (m > tl.x) {
        r = rklRecentre(r, zl.x, tl.x, zl.x, m, invT);
        tl = lseRescale(tl, m, invT);
      }
      tv = t;
#else
      if (m > tl.x) { tl = lseRescale(tl, m, invT); }
#endif
      tl.y += hsum(safeExpAcc((t - Acc(tl.x)) * invT));
    }`;
  return wgsl`${enables([student, teacher ?? undefined], vec4)}
${PARAMS_WGSL}
${b}
${accDecls(vec4)}
${MATH_WGSL}
${ROW_CHUNK_WGSL}
${FLAG_WGSL}
${powT1Wgsl(t1)}
${rev ? RKL_WGSL : ''}
const WG: u32 = ${wg}u;
#if ${rev}
// Also reverse KL's state r at the maxima z.x and t.x.
struct StudentTeacher { z: vec3<f32>, t: vec3<f32>, r: vec3<f32> };
fn mergeStudentTeacher(a: StudentTeacher, b: StudentTeacher) -> StudentTeacher {
  let r = rklMerge(a.r, a.z.x, a.t.x, b.r, b.z.x, b.t.x, params.invT);
  return StudentTeacher(lseCombine(a.z, b.z), lseCombine(a.t, b.t), r);
}
${workgroupReduce({ name: 'mergeRow', op: { combine: 'mergeStudentTeacher' }, type: 'StudentTeacher', workgroupSize: wg })}
#elif ${hasTeacher}
// The student's and the teacher's online log-sum-exp states, merged in one workgroup reduction.
struct StudentTeacher { z: vec3<f32>, t: vec3<f32> };
fn mergeStudentTeacher(a: StudentTeacher, b: StudentTeacher) -> StudentTeacher {
  return StudentTeacher(lseCombine(a.z, b.z), lseCombine(a.t, b.t));
}
${workgroupReduce({ name: 'mergeRow', op: { combine: 'mergeStudentTeacher' }, type: 'StudentTeacher', workgroupSize: wg })}
#else
${workgroupReduce({ name: 'mergeRow', op: { combine: 'lseCombine' }, type: 'vec3<f32>', workgroupSize: wg })}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rc = rowChunk(wid, nwg, params.cols);
  if (rc.lrow >= params.rows) { return; }
  let invT = params.invT;
  let zBase = (rc.lrow * params.zStride + params.zShift) / W;
  // (max, Σ at 1/T, Σ at T = 1); the teacher needs no T = 1 sum.
  var zl = vec3<f32>(SENTINEL, 0.0, 0.0);
  var zBad = false;
#if ${hasTeacher}
  let tBase = (rc.lrow * params.tStride + params.tShift) / W;
  var tl = vec3<f32>(SENTINEL, 0.0, 0.0);
  var tBad = false;
#endif
#if ${rev}
  var r = vec3<f32>(0.0, 0.0, SENTINEL);
#endif
  for (var c = rc.c0 + lid * W; c < rc.c1; c += WG * W) {
    let i = c / W;
#if ${rev}
    var tv = Acc(params.negInf);
${teacherStep}
#endif
    if (c < params.vocab) {
      let z = ${loadAcc(student, vec4, 'zIn[zBase + i]')};
      zBad = zBad || anyBad(z);
      // Rescale only when the running max grows (rare after the first steps: saves an exp per step).
      let m = hmax(z);
#if ${rev}
      if (m > zl.x) {
        r = rklRecentre(r, zl.x, tl.x, m, tl.x, invT);
        zl = lseRescale(zl, m, invT);
      }
#else
      if (m > zl.x) { zl = lseRescale(zl, m, invT); }
#endif
      let e = safeExpAcc((z - Acc(zl.x)) * invT);
      zl.y += hsum(e);
#if ${rev}
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
#endif
      // exp(z − m) for the hard term: the tempered term's power at an integer T (one exp per
      // element, not two), its own exp otherwise; none at T = 1 (the two sums coincide). Chosen at
      // compile time: a CPU adapter runs both sides of a runtime branch.
#if ${typeof t1 === 'number'}
      zl.z += hsum(powT1(e));
#elif ${t1 === 'exp'}
      zl.z += hsum(safeExpAcc(z - Acc(zl.x)));
#endif
    }
#if ${hasTeacher && !rev}
${teacherStep}
#endif
  }
  if (zBad) { raiseFlag(${bit(FLAG.studentNonFinite)}u, rc.row); }
#if ${rev}
  if (tBad) { raiseFlag(${bit(FLAG.teacherNonFinite)}u, rc.row); }
  let merged = mergeRow(lid, StudentTeacher(zl, tl, r));
  let zRow = merged.z;
  let tRow = merged.t;
#elif ${hasTeacher}
  if (tBad) { raiseFlag(${bit(FLAG.teacherNonFinite)}u, rc.row); }
  let merged = mergeRow(lid, StudentTeacher(zl, tl));
  let zRow = merged.z;
  let tRow = merged.t;
#else
  let zRow = mergeRow(lid, zl);
#endif
  if (lid == 0u) {
    let o = (rc.row * params.nChunks + rc.chunk) * ${PARTIAL_WORDS}u;
    partials[o + ${PARTIAL.zMax}u] = zRow.x;
    partials[o + ${PARTIAL.zSum}u] = zRow.y;
    partials[o + ${PARTIAL.zSum1}u] = zRow.z;
#if ${hasTeacher}
    partials[o + ${PARTIAL.tMax}u] = tRow.x;
    partials[o + ${PARTIAL.tSum}u] = tRow.y;
#endif
#if ${rev}
    partials[o + ${PARTIAL.rklSum}u] = merged.r.x;
    partials[o + ${PARTIAL.rklKept}u] = merged.r.y;
    partials[o + ${PARTIAL.rklMaskedMax}u] = merged.r.z;
#endif
  }
}
`;
}
