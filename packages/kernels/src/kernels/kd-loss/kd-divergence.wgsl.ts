import { wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';
import { ROW, ROW_WORDS } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import { accDecls, Bindings, elementType, enables, loadAcc, MATH_WGSL, ROW_CHUNK_WGSL, type FloatDType } from '../../shared/wgsl-lib.js';

export interface KdDivergenceVariant {
  student: FloatDType;
  teacher: FloatDType;
  vec4: boolean;
  /**
   * Only JSD: forward KL's loss is summed in the gradient pass, and reverse KL's D in row-stats (an
   * online sum like the normaliser's); JSD's log-mixture ln(β p + (1 − β) q) needs both normalised
   * distributions, so its K (which the gradient needs) takes a pass after the row merge.
   */
  divergence: 'jsd';
  workgroupSize: number;
}

/**
 * Pass 3 (dense teacher, JSD): its gradient needs the row's K first ((1 − β) q_j (ln(q_j/m_j) − K)),
 * so workgroup (row, chunk) sums D's terms and K's over its columns into
 * `divPartials[2 · (row · nChunks + chunk)]`.
 */
export function kdDivergenceWgsl({ student, teacher, vec4, workgroupSize: wg }: KdDivergenceVariant): string {
  const b = new Bindings()
    .add('zIn', `array<${elementType(student, vec4)}>`, 'read')
    .add('tIn', `array<${elementType(teacher, vec4)}>`, 'read')
    .add('rowstats', 'array<f32>', 'read')
    .add('divPartials', 'array<f32>', 'read_write');
  return wgsl`${enables([student, teacher], vec4)}
${PARAMS_WGSL}
${b}
${accDecls(vec4)}
${MATH_WGSL}
${ROW_CHUNK_WGSL}
const WG: u32 = ${wg}u;
${workgroupReduce({ name: 'sumDK', op: 'sum', type: 'vec2<f32>', workgroupSize: wg })}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rc = rowChunk(wid, nwg, params.cols);
  if (rc.lrow >= params.rows) { return; }
  let o = rc.row * ${ROW_WORDS}u;
  let zm = rowstats[o + ${ROW.zMax}u];
  let zLogZ = rowstats[o + ${ROW.zLogZ}u];
  let tm = rowstats[o + ${ROW.tMax}u];
  let tLogZ = rowstats[o + ${ROW.tLogZ}u];
  let invT = params.invT;
  let zBase = (rc.lrow * params.zStride + params.zShift) / W;
  let tBase = (rc.lrow * params.tStride + params.tShift) / W;
  var dAcc = 0.0;
  var kAcc = 0.0;
  for (var c = rc.c0 + lid * W; c < rc.c1; c += WG * W) {
    let i = c / W;
    var z = Acc(params.negInf);
    if (c < params.vocab) { z = ${loadAcc(student, vec4, 'zIn[zBase + i]')}; }
    var t = Acc(params.negInf);
    if (c < params.tCols) { t = ${loadAcc(teacher, vec4, 'tIn[tBase + i]')}; }
    let lq = (z - Acc(zm)) * invT - Acc(zLogZ);
    let lp = (t - Acc(tm)) * invT - Acc(tLogZ);
    let q = safeExpAcc(lq);
    let p = safeExpAcc(lp);
    for (var l = 0u; l < W; l++) {
      let r = jsdAtom(lane(lp, l), lane(lq, l), lane(p, l), lane(q, l));
      dAcc += r.x;
      kAcc += r.y;
    }
  }
  let sums = sumDK(lid, vec2<f32>(dAcc, kAcc));
  if (lid == 0u) {
    let p = (rc.row * params.nChunks + rc.chunk) * 2u;
    divPartials[p] = sums.x;
    divPartials[p + 1u] = sums.y;
  }
}
`;
}

export interface KdDivergenceMergeVariant {
  divergence: 'jsd';
}

/** Pass 4: one thread per row sums the chunk partials into the row's D and K. */
export function kdDivergenceMergeWgsl(_variant: KdDivergenceMergeVariant): string {
  const b = new Bindings().add('divPartials', 'array<f32>', 'read').add('rowstats', 'array<f32>', 'read_write');
  return wgsl`${PARAMS_WGSL}
${b}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lrow = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (lrow >= params.rows) { return; }
  let row = params.rowBase + lrow;
  var d = 0.0;
  var k = 0.0;
  for (var c = 0u; c < params.nChunks; c++) {
    d += divPartials[(row * params.nChunks + c) * 2u];
    k += divPartials[(row * params.nChunks + c) * 2u + 1u];
  }
  let o = row * ${ROW_WORDS}u;
  rowstats[o + ${ROW.div}u] = d;
  rowstats[o + ${ROW.k}u] = k;
}
`;
}
