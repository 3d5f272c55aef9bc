export interface RmsNormVariant {
  pass: 'forward' | 'backward' | 'param-grad';
  /** param-grad: add into dweight instead of overwriting. */
  accumulate: boolean;
  workgroupSize: number;
}

export function rmsNormCacheKey(v: RmsNormVariant): string {
  return `${v.pass}-${v.accumulate ? 'acc' : 'set'}-wg${v.workgroupSize}`;
}

const reduce = (wg: number, name: string) => `
  workgroupBarrier();
  for (var half = ${wg / 2}u; half > 0u; half = half / 2u) {
    if (lid < half) {
      ${name}[lid] += ${name}[lid + half];
    }
    workgroupBarrier();
  }`;

/**
 * RMSNorm over the last dimension (llama.cpp `rms_norm` followed by the weight multiply, HF
 * LlamaRMSNorm), three passes:
 * - forward: one workgroup per row, ρ = 1/√(mean(x²) + eps), y = x·ρ·w, saves ρ;
 * - backward: dx = ρ·(g − x·ρ²·mean(g·x)) with g = dy·w, one workgroup per row;
 * - param-grad: dw = Σrows dy·x·ρ, one thread per column, rows in order (deterministic).
 */
export function rmsNormWgsl(v: RmsNormVariant): string {
  const WG = v.workgroupSize;
  const header = `
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
`;
  const rowMain = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;`;
  if (v.pass === 'forward') {
    return `${header}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;
var<workgroup> sums: array<f32, ${WG}>;

${rowMain}
  var q = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    let value = x[base + d];
    q += value * value;
  }
  sums[lid] = q;
${reduce(WG, 'sums')}
  let rho = inverseSqrt(sums[0] / f32(params.cols) + params.eps);
  for (var d = lid; d < params.cols; d += ${WG}u) {
    y[base + d] = x[base + d] * rho * weight[d];
  }
  if (lid == 0u) {
    rstd[row] = rho;
  }
}
`;
  }
  if (v.pass === 'backward') {
    return `${header}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
var<workgroup> sums: array<f32, ${WG}>;

${rowMain}
  let rho = rstd[row];
  var gx = 0.0;
  for (var d = lid; d < params.cols; d += ${WG}u) {
    gx += dy[base + d] * weight[d] * x[base + d];
  }
  sums[lid] = gx;
${reduce(WG, 'sums')}
  let k = rho * rho * sums[0] / f32(params.cols);
  for (var d = lid; d < params.cols; d += ${WG}u) {
    dx[base + d] = rho * (dy[base + d] * weight[d] - x[base + d] * k);
  }
}
`;
  }
  return `${header}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> dweight: array<f32>;

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
  ${v.accumulate ? 'dweight[d] += g;' : 'dweight[d] = g;'}
}
`;
}
