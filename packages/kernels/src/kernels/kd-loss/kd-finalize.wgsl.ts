import { wgsl } from '@distillery/webgpu';
import { ROW, ROW_WORDS, SUMMARY } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import { Bindings } from '../../shared/wgsl-lib.js';

export interface KdFinalizeVariant {
  /** Forward KL with a dense teacher: D of a row is the sum of the gradient pass's loss partials. */
  lossPartials: boolean;
}

const WG = 256;

/**
 * Pass 6, one workgroup: per row soft = softWeight·τ·D and hard = hardWeight·CE (0 for inactive
 * rows; a weight of 0 contributes exactly 0 even where its term is +inf), written to the per-row
 * outputs; then Σ over rows ÷ N into the summary (total, soft, hard, N), N = the caller's
 * normaliser or the number of active rows (totals are 0 when N = 0).
 */
export function kdFinalizeWgsl({ lossPartials }: KdFinalizeVariant): string {
  const b = new Bindings().add('rowstats', 'array<f32>', 'read');
  if (lossPartials) b.add('lossPartials', 'array<f32>', 'read');
  b.addSummary().add('softOut', 'array<f32>', 'read_write').add('hardOut', 'array<f32>', 'read_write').add('totalOut', 'array<f32>', 'read_write');
  return wgsl`${PARAMS_WGSL}
${b}
const WG: u32 = ${WG}u;
var<workgroup> sSoft: array<f32, WG>;
var<workgroup> sHard: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var softSum = 0.0;
  var hardSum = 0.0;
  for (var row = lid; row < params.totalRows; row += WG) {
    let o = row * ${ROW_WORDS}u;
    let isActive = rowstats[o + ${ROW.active}u] > 0.0;
#if ${lossPartials}
    var d = 0.0;
    for (var c = 0u; c < params.nChunks; c++) { d += lossPartials[row * params.nChunks + c]; }
#else
    let d = rowstats[o + ${ROW.div}u];
#endif
    let softOk = isActive && rowstats[o + ${ROW.softOk}u] > 0.0 && params.softLossScale != 0.0;
    let soft = select(0.0, params.softLossScale * d, softOk);
    let hard = select(0.0, params.hardWeight * rowstats[o + ${ROW.hard}u], isActive && params.hardWeight != 0.0);
    softOut[row] = soft;
    hardOut[row] = hard;
    totalOut[row] = soft + hard;
    softSum += soft;
    hardSum += hard;
  }
  sSoft[lid] = softSum;
  sHard[lid] = hardSum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      sSoft[lid] = sSoft[lid] + sSoft[lid + s];
      sHard[lid] = sHard[lid] + sHard[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var n = params.normalizer;
    if (n <= 0.0) { n = f32(atomicLoad(&summary[${SUMMARY.count}])); }
    let inv = select(0.0, 1.0 / n, n > 0.0);
    let soft = select(0.0, sSoft[0] * inv, n > 0.0);
    let hard = select(0.0, sHard[0] * inv, n > 0.0);
    atomicStore(&summary[${SUMMARY.total}], bitcast<u32>(soft + hard));
    atomicStore(&summary[${SUMMARY.soft}], bitcast<u32>(soft));
    atomicStore(&summary[${SUMMARY.hard}], bitcast<u32>(hard));
    atomicStore(&summary[${SUMMARY.normalizer}], bitcast<u32>(n));
  }
}
`;
}
