import { wgsl } from '@distillery/webgpu';
import { ROW, ROW_WORDS } from '../../shared/layout.js';
import { PARAMS_WGSL } from '../../shared/params.js';
import {
  accDecls,
  Bindings,
  elementType,
  enables,
  loadAcc,
  MATH_WGSL,
  ROW_CHUNK_WGSL,
  storeAcc,
  type FloatDType,
} from '../../shared/wgsl-lib.js';

export interface SoftmaxWriteVariant {
  input: FloatDType;
  output: FloatDType;
  vec4: boolean;
  /** log_softmax instead of softmax. */
  log: boolean;
  workgroupSize: number;
}

/**
 * Last pass of the tempered softmax: workgroup (row, chunk) writes
 *   softmax:     exp((z − max)/T − ln Σ exp((z − max)/T))
 *   log_softmax:     (z − max)/T − ln Σ exp((z − max)/T)
 * from the merged row stats; a row that is entirely −inf gets 0 (softmax) or −inf (log_softmax).
 */
export function softmaxWriteWgsl({ input, output, vec4, log, workgroupSize: wg }: SoftmaxWriteVariant): string {
  const b = new Bindings()
    .add('zIn', `array<${elementType(input, vec4)}>`, 'read')
    .add('rowstats', 'array<f32>', 'read')
    .add('outp', `array<${elementType(output, vec4)}>`, 'read_write');
  return wgsl`${enables([input, output], vec4)}
${PARAMS_WGSL}
${b}
${accDecls(vec4)}
${MATH_WGSL}
${ROW_CHUNK_WGSL}
const WG: u32 = ${wg}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rc = rowChunk(wid, nwg, params.vocab);
  if (rc.lrow >= params.rows) { return; }
  let o = rc.row * ${ROW_WORDS}u;
  let zm = rowstats[o + ${ROW.zMax}u];
  let zLogZ = rowstats[o + ${ROW.zLogZ}u];
  let empty = rowstats[o + ${ROW.zOk}u] == 0.0;
  let invT = params.invT;
  let zBase = (rc.lrow * params.zStride + params.zShift) / W;
  let oBase = (rc.lrow * params.zStride + params.gShift) / W;
  for (var c = rc.c0 + lid * W; c < rc.c1; c += WG * W) {
    let i = c / W;
    let z = ${loadAcc(input, vec4, 'zIn[zBase + i]')};
    let lq = (z - Acc(zm)) * invT - Acc(zLogZ);
#if ${log}
    let v = select(lq, Acc(params.negInf), empty);
#else
    let v = select(safeExpAcc(lq), Acc(0.0), empty);
#endif
#if ${log && output === 'f16'}
    // f16 cannot hold a log-probability below -65504: clamp finite values (−inf stays −inf).
    outp[oBase + i] = ${storeAcc(output, vec4, 'select(max(v, Acc(-65504.0)), v, v == Acc(params.negInf))')};
#else
    outp[oBase + i] = ${storeAcc(output, vec4, 'v')};
#endif
  }
}
`;
}
