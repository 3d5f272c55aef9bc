import { wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';
import { FLAG, ROW, ROW_WORDS, SUMMARY } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import { Bindings, FLAG_WGSL } from '../../shared/wgsl-lib.js';

export interface KdFinalizeVariant {
  /** Forward KL with a dense teacher: D of a row is the sum of the gradient pass's loss partials. */
  lossPartials: boolean;
  /** Multiply each row's terms by its `[rows]` f32 weight (and flag weights that are negative or not finite). */
  rowWeights: boolean;
}

const WG = 256;
const bit = (flag: number) => Math.log2(flag);

/**
 * Pass 6, one workgroup: per row soft = w·softWeight·τ·D and hard = w·hardWeight·CE (w the row's
 * weight, 1 without row weights; 0 for inactive rows; a weight of 0 contributes exactly 0 even
 * where its term is +inf), written to the per-row outputs; then Σ over rows ÷ N into the summary
 * (total, soft, hard, N), N = the caller's normaliser or the number of active rows (totals are 0
 * when N = 0). Row weights of active rows that are negative or not finite raise a flag.
 */
export function kdFinalizeWgsl({ lossPartials, rowWeights }: KdFinalizeVariant): string {
  const b = new Bindings().add('rowstats', 'array<f32>', 'read');
  if (lossPartials) b.add('lossPartials', 'array<f32>', 'read');
  if (rowWeights) b.add('rowWeights', 'array<f32>', 'read');
  b.addSummary()
    .add('softOut', 'array<f32>', 'read_write')
    .add('hardOut', 'array<f32>', 'read_write')
    .add('totalOut', 'array<f32>', 'read_write');
  // Spliced in as strings rather than #if blocks so the unweighted variants' WGSL stays byte-identical.
  const flagFn = rowWeights ? FLAG_WGSL : '';
  // The weight is checked on its bits (float comparisons may assume no NaN); −0 is a zero weight.
  const weight = rowWeights
    ? `
    let w = rowWeights[row];
    let wBits = bitcast<u32>(w);
    if (isActive && ((wBits & 0x7f800000u) == 0x7f800000u || wBits > 0x80000000u)) { raiseFlag(${bit(FLAG.rowWeightRange)}u, row); }`
    : '';
  const times = rowWeights ? ' * w' : '';
  const live = rowWeights ? ' && w != 0.0' : '';
  return wgsl`${PARAMS_WGSL}
${b}${flagFn}
const WG: u32 = ${WG}u;
${workgroupReduce({ name: 'sumSoftHard', op: 'sum', type: 'vec2<f32>', workgroupSize: WG })}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var softSum = 0.0;
  var hardSum = 0.0;
  for (var row = lid; row < params.totalRows; row += WG) {
    let o = row * ${ROW_WORDS}u;
    let isActive = rowstats[o + ${ROW.active}u] > 0.0;${weight}
#if ${lossPartials}
    var d = 0.0;
    for (var c = 0u; c < params.nChunks; c++) { d += lossPartials[row * params.nChunks + c]; }
#else
    let d = rowstats[o + ${ROW.div}u];
#endif
    let softOk = isActive && rowstats[o + ${ROW.softOk}u] > 0.0 && params.softLossScale != 0.0${live};
    let soft = select(0.0, params.softLossScale * d${times}, softOk);
    let hard = select(0.0, params.hardWeight * rowstats[o + ${ROW.hard}u]${times}, isActive && params.hardWeight != 0.0${live});
    softOut[row] = soft;
    hardOut[row] = hard;
    totalOut[row] = soft + hard;
    softSum += soft;
    hardSum += hard;
  }
  let sums = sumSoftHard(lid, vec2<f32>(softSum, hardSum));
  if (lid == 0u) {
    var n = params.normalizer;
    if (n <= 0.0) { n = f32(atomicLoad(&summary[${SUMMARY.count}])); }
    let inv = select(0.0, 1.0 / n, n > 0.0);
    let soft = select(0.0, sums.x * inv, n > 0.0);
    let hard = select(0.0, sums.y * inv, n > 0.0);
    atomicStore(&summary[${SUMMARY.total}], bitcast<u32>(soft + hard));
    atomicStore(&summary[${SUMMARY.soft}], bitcast<u32>(soft));
    atomicStore(&summary[${SUMMARY.hard}], bitcast<u32>(hard));
    atomicStore(&summary[${SUMMARY.normalizer}], bitcast<u32>(n));
  }
}
`;
}
