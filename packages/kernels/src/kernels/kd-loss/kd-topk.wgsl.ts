import { wgsl } from '@distillery/webgpu';
import { ROW, ROW_WORDS } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import { accDecls, Bindings, enables, gradScalesWgsl, MATH_WGSL, type FloatDType } from '../../shared/wgsl-lib.js';
import type { Divergence } from '../row-stats/row-merge.wgsl.js';

export interface KdTopkScatterVariant {
  student: FloatDType;
  grad: FloatDType;
  divergence: Divergence;
  labels: boolean;
  /** Multiply the row's gradient by its `[rows]` f32 weight. */
  rowWeights: boolean;
  /**
   * In-place loss: the gradient pass will overwrite the logits this pass reads, so it runs first
   * and stores each support entry's gradient in `supportGrad[row · k + e]` (f32) for
   * `kdTopkPlaceWgsl` to write after the gradient pass. Absent (not false) otherwise.
   */
  inPlace?: true;
}

/**
 * Pass 5b (top-k teacher): the gradient pass wrote q_j · c_off (the tokens outside the support)
 * everywhere; one thread per (row, support entry) overwrites its token with the support formula
 *   forward: q − p;  reverse: q (ln(q/p) − D);  JSD: (1 − β) q (ln(q/m) − K)
 * plus the hard term (times the row's weight, if any), so the gradient stays dense over the student's vocabulary.
 */
export function kdTopkScatterWgsl(v: KdTopkScatterVariant): string {
  const b = new Bindings()
    .add('zIn', `array<${v.student}>`, 'read')
    .add('rowstats', 'array<f32>', 'read')
    .add('summary', 'array<u32>', 'read');
  if (v.labels) b.add('labels', 'array<i32>', 'read');
  if (v.rowWeights) b.add('rowWeights', 'array<f32>', 'read');
  b.add('topIdx', 'array<i32>', 'read').add('topLogp', 'array<f32>', 'read');
  if (v.inPlace) b.add('supportGrad', 'array<f32>', 'read_write');
  else b.add('grad', `array<${v.grad}>`, 'read_write');
  const store = v.inPlace ? 'supportGrad[e] = gv;' : `grad[lrow * params.zStride + params.gShift + u32(idx)] = ${v.grad}(gv);`;
  const fwd = v.divergence === 'forward-kl';
  const rev = v.divergence === 'reverse-kl';
  return wgsl`${enables([v.student, v.grad])}
${PARAMS_WGSL}
${b}
${accDecls(false)}
${MATH_WGSL}
${gradScalesWgsl(v.rowWeights)}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (gid >= params.rows * params.k) { return; }
  let lrow = gid / params.k;
  let row = params.rowBase + lrow;
  let e = row * params.k + (gid - lrow * params.k);
  let idx = topIdx[e];
  if (idx < 0 || u32(idx) >= params.vocab) { return; }
  let o = row * ${ROW_WORDS}u;
  let gs = gradScales(row);
  let zm = rowstats[o + ${ROW.zMax}u];
  let z = f32(zIn[lrow * params.zStride + params.zShift + u32(idx)]);
  let lq = (z - zm) * params.invT - rowstats[o + ${ROW.zLogZ}u];
  let q = safeExp(lq);
  let lp = min(topLogp[e], 0.0) * params.invT - rowstats[o + ${ROW.tLogZ}u];
  let p = safeExp(lp);
#if ${fwd}
  let soft = select(q - p, 0.0, z == params.negInf);
#elif ${rev}
  let soft = select(q * (lq - lp - rowstats[o + ${ROW.div}u]), 0.0, q == 0.0);
#else
  let soft = select(params.oneMinusBeta * q * (jsdLogQOverM(lp, lq, p) - rowstats[o + ${ROW.k}u]), 0.0, q == 0.0);
#endif
  var gv = select(0.0, gs.soft * soft, gs.softLive);
  if (gs.hardLive) {
    var q1 = q;
    if (params.needT1 != 0u) { q1 = safeExp((z - zm) - rowstats[o + ${ROW.zLogZ1}u]); }
    var y = -1;
#if ${v.labels}
    y = labels[row];
#endif
    gv += gs.hard * (q1 - select(0.0, 1.0, idx == y));
  }
  ${store}
}
`;
}

export interface KdTopkPlaceVariant {
  /** The logits' (and so the gradient's) dtype. */
  grad: FloatDType;
}

/**
 * Pass 5c (top-k teacher, in place): after the gradient pass overwrote the logits with q_j · c_off,
 * one thread per (row, support entry) writes the support gradient that pass 5b kept aside.
 */
export function kdTopkPlaceWgsl(v: KdTopkPlaceVariant): string {
  const b = new Bindings()
    .add('zIn', `array<${v.grad}>`, 'read_write')
    .add('topIdx', 'array<i32>', 'read')
    .add('supportGrad', 'array<f32>', 'read');
  return wgsl`${enables([v.grad])}
${PARAMS_WGSL}
${b}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (gid >= params.rows * params.k) { return; }
  let lrow = gid / params.k;
  let e = (params.rowBase + lrow) * params.k + (gid - lrow * params.k);
  let idx = topIdx[e];
  if (idx < 0 || u32(idx) >= params.vocab) { return; }
  zIn[lrow * params.zStride + params.gShift + u32(idx)] = ${v.grad}(supportGrad[e]);
}
`;
}
