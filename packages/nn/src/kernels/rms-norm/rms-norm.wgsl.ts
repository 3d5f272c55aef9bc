import { defineKernel, workgroupReduce, wgsl } from '@distillery/webgpu/wgsl';

export interface RmsNormVariant {
  pass: 'forward' | 'backward' | 'param-grad';
  /** param-grad: add into dweight instead of overwriting. */
  accumulate: boolean;
  workgroupSize: number;
  /** Reduce with subgroup operations (the device has `subgroups`). */
  subgroups: boolean;
}

const READ = { type: 'array<f32>', access: 'read' } as const;
const WRITE = { type: 'array<f32>', access: 'read_write' } as const;

/**
 * RMSNorm over the last dimension (llama.cpp `rms_norm` followed by the weight multiply, HF
 * LlamaRMSNorm), three passes:
 * - forward: one workgroup per row, ρ = 1/√(mean(x²) + eps), y = x·ρ·w, saves ρ;
 * - backward: dx = ρ·(g − x·ρ²·mean(g·x)) with g = dy·w, one workgroup per row;
 * - param-grad: dw = Σrows dy·x·ρ, one thread per column, rows in order (deterministic).
 */
export const rmsNormKernel = defineKernel({
  name: 'nn.rms-norm',
  uniforms: { rows: 'u32', cols: 'u32', eps: { type: 'f32', default: 0 } },
  bindings: (v: RmsNormVariant) =>
    v.pass === 'forward'
      ? { x: READ, weight: READ, y: WRITE, rstd: WRITE }
      : v.pass === 'backward'
        ? { dy: READ, x: READ, weight: READ, rstd: READ, dx: WRITE }
        : { dy: READ, x: READ, rstd: READ, dweight: WRITE },
  wgsl: (v, k) => {
    const WG = v.workgroupSize;
    if (v.pass === 'param-grad') {
      return wgsl`${k.header}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  if (d >= params.cols) {
    return;
  }
  var g = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let i = r * params.cols + d;
    g += dy[i] * x[i] * rstd[r];
  }
#if ${v.accumulate}
  dweight[d] += g;
#else
  dweight[d] = g;
#endif
}
`;
    }
    return wgsl`${k.header}
${workgroupReduce({ name: 'rowSum', op: 'sum', workgroupSize: WG, subgroups: v.subgroups })}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // The row is uniform across the workgroup, so the early return keeps the reduction in uniform control flow.
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
#if ${v.pass === 'forward'}
  var q = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let value = x[base + d];
    q += value * value;
  }
  let rho = inverseSqrt(rowSum(lid, q) / f32(params.cols) + params.eps);
  for (var d = lid; d < params.cols; d += ${WG}u) {
    y[base + d] = x[base + d] * rho * weight[d];
  }
  if (lid == 0u) {
    rstd[row] = rho;
  }
#else
  let rho = rstd[row];
  var gx = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    gx += dy[base + d] * weight[d] * x[base + d];
  }
  let k = rho * rho * rowSum(lid, gx) / f32(params.cols);
  for (var d = lid; d < params.cols; d += ${WG}u) {
    dx[base + d] = rho * (dy[base + d] * weight[d] - x[base + d] * k);
  }
#endif
}
`;
  },
});
