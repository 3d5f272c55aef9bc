import { defineKernel, wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';

export interface LayerNormVariant {
  pass: 'forward' | 'backward' | 'param-grad';
  /** param-grad: add into dgamma/dbeta instead of overwriting. */
  accumulate: boolean;
  workgroupSize: number;
  /** Row reductions through subgroup operations (the device has `subgroups`); forward and backward only. */
  subgroups: boolean;
}

const READ = 'read' as const;
const WRITE = 'read_write' as const;
const F32 = 'array<f32>';

/**
 * Layer normalisation over the last dimension (as torch.nn.LayerNorm), three passes:
 * - forward: one workgroup per row, two-pass mean and variance (stable), saves mean and 1/σ;
 * - backward: dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, one workgroup per row;
 * - param-grad: dγ = Σrows dy·x̂, dβ = Σrows dy, one thread per column, rows in order (deterministic).
 */
export const layerNormKernel = defineKernel({
  name: 'nn.layer-norm',
  uniforms: { rows: 'u32', cols: 'u32', eps: 'f32' },
  bindings: (v: LayerNormVariant) =>
    v.pass === 'forward'
      ? {
          x: { type: F32, access: READ },
          gamma: { type: F32, access: READ },
          beta: { type: F32, access: READ },
          y: { type: F32, access: WRITE },
          stats: { type: F32, access: WRITE },
        }
      : v.pass === 'backward'
        ? {
            dy: { type: F32, access: READ },
            x: { type: F32, access: READ },
            gamma: { type: F32, access: READ },
            stats: { type: F32, access: READ },
            dx: { type: F32, access: WRITE },
          }
        : {
            dy: { type: F32, access: READ },
            x: { type: F32, access: READ },
            stats: { type: F32, access: READ },
            dgamma: { type: F32, access: WRITE },
            dbeta: { type: F32, access: WRITE },
          },
  wgsl: (v, k) => {
    const WG = v.workgroupSize;
    if (v.pass === 'forward') {
      return wgsl`${k.header}
${workgroupReduce({ name: 'rowSum', op: 'sum', workgroupSize: WG, subgroups: v.subgroups })}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var s = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    s += x[base + d];
  }
  let mean = rowSum(lid, s) / f32(params.cols);
  var q = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let c = x[base + d] - mean;
    q += c * c;
  }
  let rstd = inverseSqrt(rowSum(lid, q) / f32(params.cols) + params.eps);
  for (var d = lid; d < params.cols; d += ${WG}u) {
    y[base + d] = (x[base + d] - mean) * rstd * gamma[d] + beta[d];
  }
  if (lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}
`;
    }
    if (v.pass === 'backward') {
      return wgsl`${k.header}
${workgroupReduce({ name: 'rowSums', op: 'sum', type: 'vec2<f32>', workgroupSize: WG, subgroups: v.subgroups })}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var a = 0.0;
  var b = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let g = dy[base + d] * gamma[d];
    a += g;
    b += g * (x[base + d] - mean) * rstd;
  }
  let sums = rowSums(lid, vec2<f32>(a, b)) / f32(params.cols);
  let mean_g = sums.x;
  let mean_gx = sums.y;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let xhat = (x[base + d] - mean) * rstd;
    dx[base + d] = rstd * (dy[base + d] * gamma[d] - mean_g - xhat * mean_gx);
  }
}
`;
    }
    return wgsl`${k.header}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  if (d >= params.cols) {
    return;
  }
  var g = 0.0;
  var b = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let i = r * params.cols + d;
    g += dy[i] * (x[i] - stats[2u * r]) * stats[2u * r + 1u];
    b += dy[i];
  }
#if ${v.accumulate}
  dgamma[d] += g;
  dbeta[d] += b;
#else
  dgamma[d] = g;
  dbeta[d] = b;
#endif
}
`;
  },
});
