import { wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';
import { ROW, ROW_WORDS } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import {
  accDecls,
  Bindings,
  elementType,
  enables,
  loadAcc,
  gradScalesWgsl,
  MATH_WGSL,
  powT1Wgsl,
  ROW_CHUNK_WGSL,
  storeAcc,
  type FloatDType,
  type T1Mode,
} from '../../shared/wgsl-lib.js';
import type { Divergence } from '../row-stats/row-merge.wgsl.js';

export interface KdGradientVariant {
  student: FloatDType;
  /** A dense teacher's dtype, 'topk' (coefficient from the row stats), or 'none' (cross-entropy only). */
  teacher: FloatDType | 'topk' | 'none';
  grad: FloatDType;
  vec4: boolean;
  divergence: Divergence;
  labels: boolean;
  /** A `[rows]` f32 weight per row multiplies the row's gradient (indexed by the global row). */
  rowWeights: boolean;
  workgroupSize: number;
  /** How softmax(z) of the hard term is made: 'same' (= q: T = 1 or no hard term), 'exp', or T's integer power of q. */
  t1: T1Mode;
  /**
   * The gradient overwrites the logits (`zIn` becomes read_write; no `grad` binding): each thread
   * stores dL/dz over the element it just loaded, after the row's stats were final (earlier passes).
   * Absent (not false) otherwise, so the other variants keep their cache keys and snapshots.
   */
  inPlace?: true;
}

/**
 * Pass 5: the gradient, elementwise. Workgroup (row, chunk) recomputes q = softmax(z/T) (and p for
 * a dense teacher) from the row stats and writes
 *   dL/dz_j = w_r · (softWeight·τ/T · ∂D/∂b_j + hardWeight · (softmax(z)_j − [j = y])) / N
 * (w_r = 1 without row weights) never storing a probability. The weight enters through 1/N, so a
 * weight of 0 zeroes both scales and the live tests skip the row: an exactly-zero gradient, never 0 · inf. With a dense teacher and forward KL it also sums the row's loss
 * terms p (ln p − ln q) of its columns into `lossPartials` (the loss needs no pass of its own).
 */
export function kdGradientWgsl(v: KdGradientVariant): string {
  const dense = v.teacher !== 'topk' && v.teacher !== 'none';
  const topk = v.teacher === 'topk';
  const fwdDense = dense && v.divergence === 'forward-kl';
  const rev = v.divergence === 'reverse-kl';
  const jsd = v.divergence === 'jsd';
  const inPlace = Boolean(v.inPlace);
  const b = new Bindings().add('zIn', `array<${elementType(v.student, v.vec4)}>`, inPlace ? 'read_write' : 'read');
  if (dense) b.add('tIn', `array<${elementType(v.teacher as FloatDType, v.vec4)}>`, 'read');
  b.add('rowstats', 'array<f32>', 'read').add('summary', 'array<u32>', 'read');
  if (v.labels) b.add('labels', 'array<i32>', 'read');
  if (v.rowWeights) b.add('rowWeights', 'array<f32>', 'read');
  if (!inPlace) b.add('grad', `array<${elementType(v.grad, v.vec4)}>`, 'read_write');
  if (fwdDense) b.add('lossPartials', 'array<f32>', 'read_write');
  return wgsl`${enables([v.student, dense ? (v.teacher as FloatDType) : undefined, v.grad], v.vec4)}
${PARAMS_WGSL}
${b}
${accDecls(v.vec4)}
${MATH_WGSL}
${ROW_CHUNK_WGSL}
${gradScalesWgsl(v.rowWeights)}
${powT1Wgsl(v.t1)}
const WG: u32 = ${v.workgroupSize}u;
#if ${fwdDense}
${workgroupReduce({ name: 'sumLoss', op: 'sum', workgroupSize: v.workgroupSize })}
#endif

// (1 − β) q (ln(q/m) − K): the JSD gradient coefficient of one token.
fn jsdCoef(lp: f32, lq: f32, p: f32, q: f32, k: f32) -> f32 {
  return select(params.oneMinusBeta * q * (jsdLogQOverM(lp, lq, p) - k), 0.0, q == 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rc = rowChunk(wid, nwg, params.cols);
  if (rc.lrow >= params.rows) { return; }
  let o = rc.row * ${ROW_WORDS}u;
  let zm = rowstats[o + ${ROW.zMax}u];
  let zLogZ = rowstats[o + ${ROW.zLogZ}u];
  let zLogZ1 = rowstats[o + ${ROW.zLogZ1}u];
  let gs = gradScales(rc.row);
  var y = -1;
#if ${v.labels}
  y = labels[rc.row];
#endif
#if ${dense}
  let tm = rowstats[o + ${ROW.tMax}u];
  let tLogZ = rowstats[o + ${ROW.tLogZ}u];
  let tBase = (rc.lrow * params.tStride + params.tShift) / W;
#endif
#if ${rev}
  let dRow = rowstats[o + ${ROW.div}u];
#endif
#if ${jsd}
  let kRow = rowstats[o + ${ROW.k}u];
#endif
#if ${topk}
  let cOff = rowstats[o + ${ROW.cOff}u];
#endif
  let invT = params.invT;
  // softmax(z) = (q · e^(logZ − logZ1/T))^T with q = softmax(z/T) at an integer T: no exp of its own.
  let q1Scale = exp(zLogZ - invT * zLogZ1);
  // The label's one-hot of a step: the label's lane where the step holds the label's column.
  let yStep = u32(y) / W;
  let yHot = select(Acc(0.0), Acc(1.0), laneIds() == UAcc(u32(y) % W));
  let zBase = (rc.lrow * params.zStride + params.zShift) / W;
  let gBase = (rc.lrow * params.zStride + params.gShift) / W;
  var lossAcc = Acc(0.0);
  for (var c = rc.c0 + lid * W; c < rc.c1; c += WG * W) {
    let i = c / W;
    let inStudent = c < params.vocab;
    var z = Acc(params.negInf);
    if (inStudent) { z = ${loadAcc(v.student, v.vec4, 'zIn[zBase + i]')}; }
    let lq = (z - Acc(zm)) * invT - Acc(zLogZ);
    let q = safeExpAcc(lq);
    var soft = Acc(0.0);
#if ${dense}
    var t = Acc(params.negInf);
    if (c < params.tCols) { t = ${loadAcc(v.teacher as FloatDType, v.vec4, 'tIn[tBase + i]')}; }
    let lp = (t - Acc(tm)) * invT - Acc(tLogZ);
    let p = safeExpAcc(lp);
#if ${fwdDense}
    // A masked (−inf) student logit gets no soft gradient.
    soft = select(q - p, Acc(0.0), z == Acc(params.negInf));
    lossAcc += select(p * (lp - lq), Acc(0.0), p == Acc(0.0));
#elif ${rev}
    soft = select(q * (lq - lp - Acc(dRow)), Acc(0.0), q == Acc(0.0));
#elif ${v.vec4}
    for (var l = 0u; l < W; l++) {
      soft[l] = jsdCoef(lane(lp, l), lane(lq, l), lane(p, l), lane(q, l), kRow);
    }
#else
    soft = jsdCoef(lp, lq, p, q, kRow);
#endif
#endif
#if ${topk}
    soft = q * cOff;
#endif
    if (inStudent) {
      var gv = select(Acc(0.0), Acc(gs.soft) * soft, gs.softLive);
      if (gs.hardLive) {
#if ${typeof v.t1 === 'number'}
        let q1 = powT1(q * Acc(q1Scale));
#elif ${v.t1 === 'exp'}
        let q1 = safeExpAcc((z - Acc(zm)) - Acc(zLogZ1));
#else
        let q1 = q;
#endif
        let onehot = select(Acc(0.0), yHot, i == yStep);
        gv += Acc(gs.hard) * (q1 - onehot);
      }
      ${inPlace ? 'zIn' : 'grad'}[gBase + i] = ${storeAcc(v.grad, v.vec4, 'gv')};
    }
  }
#if ${fwdDense}
  let loss = sumLoss(lid, hsum(lossAcc));
  if (lid == 0u) { lossPartials[rc.row * params.nChunks + rc.chunk] = loss; }
#endif
}
`;
}
