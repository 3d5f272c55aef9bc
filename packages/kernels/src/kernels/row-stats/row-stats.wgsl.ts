import { wgsl } from '@distillery/webgpu';
import { FLAG, PARTIAL, PARTIAL_WORDS } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import { accDecls, Bindings, elementType, enables, FLAG_WGSL, loadAcc, MATH_WGSL, type FloatDType } from '../../shared/wgsl-lib.js';

export interface RowStatsVariant {
  student: FloatDType;
  /** dtype of a dense teacher read in the same pass, or null. */
  teacher: FloatDType | null;
  /** Load 4 columns per step (every row stride is a multiple of 4). */
  vec4: boolean;
  workgroupSize: number;
}

const bit = (flag: number) => Math.log2(flag);

/**
 * Pass 1 of every row kernel. Workgroup (row, chunk) reduces its columns to online-softmax
 * partials: max of the raw logits and Σ exp((x − max)/T) (and at T = 1 for the hard term), for the
 * student and, when present, the dense teacher; it flags NaN/+Inf (−Inf is a mask).
 */
export function rowStatsWgsl({ student, teacher, vec4, workgroupSize: wg }: RowStatsVariant): string {
  const hasTeacher = teacher !== null;
  const b = new Bindings().add('zIn', `array<${elementType(student, vec4)}>`, 'read');
  if (hasTeacher) b.add('tIn', `array<${elementType(teacher, vec4)}>`, 'read');
  b.add('partials', 'array<f32>', 'read_write').addSummary();
  return wgsl`${enables([student, teacher ?? undefined], vec4)}
${PARAMS_WGSL}
${b}
${accDecls(vec4)}
${MATH_WGSL}
${FLAG_WGSL}
const WG: u32 = ${wg}u;
var<workgroup> sZm: array<f32, WG>;
var<workgroup> sZs: array<f32, WG>;
var<workgroup> sZs1: array<f32, WG>;
#if ${hasTeacher}
var<workgroup> sTm: array<f32, WG>;
var<workgroup> sTs: array<f32, WG>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= params.rows * params.nChunks) { return; }
  let lrow = g / params.nChunks;
  let chunk = g - lrow * params.nChunks;
  let row = params.rowBase + lrow;
  let c0 = chunk * params.chunk;
  let c1 = min(c0 + params.chunk, params.cols);
  let invT = params.invT;
  let needT1 = params.needT1 != 0u;
  let zBase = (lrow * params.zStride + params.zShift) / W;
  var zm = SENTINEL;
  var zs = 0.0;
  var zs1 = 0.0;
  var zBad = false;
#if ${hasTeacher}
  let tBase = (lrow * params.tStride + params.tShift) / W;
  var tm = SENTINEL;
  var ts = 0.0;
  var tBad = false;
#endif
  for (var c = c0 + lid * W; c < c1; c += WG * W) {
    let i = c / W;
    if (c < params.vocab) {
      let z = ${loadAcc(student, vec4, 'zIn[zBase + i]')};
      zBad = zBad || anyBad(z);
      // Rescale only when the running max grows (rare after the first steps: saves an exp per step).
      let m = hmax(z);
      if (m > zm) {
        zs = rescale(zs, zm, m, invT);
        zs1 = rescale(zs1, zm, m, 1.0);
        zm = m;
      }
      let e = safeExpAcc((z - Acc(zm)) * invT);
      zs += hsum(e);
      if (needT1) {
        // exp(z − m) from the tempered term where T allows (one exp per element, not two): its
        // square at T = 2; its own exp otherwise (T = 1 never gets here: the two sums coincide).
        if (invT == 0.5) {
          zs1 += hsum(e * e);
        } else {
          zs1 += hsum(safeExpAcc(z - Acc(zm)));
        }
      }
    }
#if ${hasTeacher}
    if (c < params.tCols) {
      let t = ${loadAcc(teacher ?? 'f32', vec4, 'tIn[tBase + i]')};
      tBad = tBad || anyBad(t);
      let m = hmax(t);
      if (m > tm) {
        ts = rescale(ts, tm, m, invT);
        tm = m;
      }
      ts += hsum(safeExpAcc((t - Acc(tm)) * invT));
    }
#endif
  }
  if (zBad) { raiseFlag(${bit(FLAG.studentNonFinite)}u, row); }
  sZm[lid] = zm;
  sZs[lid] = zs;
  sZs1[lid] = zs1;
#if ${hasTeacher}
  if (tBad) { raiseFlag(${bit(FLAG.teacherNonFinite)}u, row); }
  sTm[lid] = tm;
  sTs[lid] = ts;
#endif
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      let m1 = sZm[lid];
      let m2 = sZm[lid + s];
      let m = max(m1, m2);
      sZs[lid] = rescale(sZs[lid], m1, m, invT) + rescale(sZs[lid + s], m2, m, invT);
      sZs1[lid] = rescale(sZs1[lid], m1, m, 1.0) + rescale(sZs1[lid + s], m2, m, 1.0);
      sZm[lid] = m;
#if ${hasTeacher}
      let n1 = sTm[lid];
      let n2 = sTm[lid + s];
      let n = max(n1, n2);
      sTs[lid] = rescale(sTs[lid], n1, n, invT) + rescale(sTs[lid + s], n2, n, invT);
      sTm[lid] = n;
#endif
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = (row * params.nChunks + chunk) * ${PARTIAL_WORDS}u;
    partials[o + ${PARTIAL.zMax}u] = sZm[0];
    partials[o + ${PARTIAL.zSum}u] = sZs[0];
    partials[o + ${PARTIAL.zSum1}u] = sZs1[0];
#if ${hasTeacher}
    partials[o + ${PARTIAL.tMax}u] = sTm[0];
    partials[o + ${PARTIAL.tSum}u] = sTs[0];
#endif
  }
}
`;
}
