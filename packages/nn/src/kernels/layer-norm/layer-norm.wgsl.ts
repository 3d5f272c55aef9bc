export interface LayerNormVariant {
  pass: 'forward' | 'backward' | 'param-grad';
  /** param-grad: add into dgamma/dbeta instead of overwriting. */
  accumulate: boolean;
  workgroupSize: number;
}

export function layerNormCacheKey(v: LayerNormVariant): string {
  return `${v.pass}-${v.accumulate ? 'acc' : 'set'}-wg${v.workgroupSize}`;
}

const reduce = (wg: number, names: string[]) => `
  workgroupBarrier();
  for (var half = ${wg / 2}u; half > 0u; half = half / 2u) {
    if (lid < half) {
${names.map((n) => `      ${n}[lid] += ${n}[lid + half];`).join('\n')}
    }
    workgroupBarrier();
  }`;

/**
 * Layer normalisation over the last dimension (as torch.nn.LayerNorm), three passes:
 * - forward: one workgroup per row, two-pass mean and variance (stable), saves mean and 1/σ;
 * - backward: dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, one workgroup per row;
 * - param-grad: dγ = Σrows dy·x̂, dβ = Σrows dy, one thread per column, rows in order (deterministic).
 */
export function layerNormWgsl(v: LayerNormVariant): string {
  const WG = v.workgroupSize;
  const header = `
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
`;
  if (v.pass === 'forward') {
    return `${header}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
var<workgroup> sums: array<f32, ${WG}>;

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
  sums[lid] = s;
${reduce(WG, ['sums'])}
  let mean = sums[0] / f32(params.cols);
  workgroupBarrier();
  var q = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let c = x[base + d] - mean;
    q += c * c;
  }
  sums[lid] = q;
${reduce(WG, ['sums'])}
  let rstd = inverseSqrt(sums[0] / f32(params.cols) + params.eps);
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
    return `${header}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
var<workgroup> sum_g: array<f32, ${WG}>;
var<workgroup> sum_gx: array<f32, ${WG}>;

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
  sum_g[lid] = a;
  sum_gx[lid] = b;
${reduce(WG, ['sum_g', 'sum_gx'])}
  let mean_g = sum_g[0] / f32(params.cols);
  let mean_gx = sum_gx[0] / f32(params.cols);
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let xhat = (x[base + d] - mean) * rstd;
    dx[base + d] = rstd * (dy[base + d] * gamma[d] - mean_g - xhat * mean_gx);
  }
}
`;
  }
  return `${header}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

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
  ${v.accumulate ? 'dgamma[d] += g;\n  dbeta[d] += b;' : 'dgamma[d] = g;\n  dbeta[d] = b;'}
}
`;
}
