export interface SoftmaxVariant {
  backward: boolean;
  /** Row i of each [T, T] block sees columns 0..i only (causal attention). */
  causal: boolean;
  workgroupSize: number;
}

export function softmaxCacheKey(v: SoftmaxVariant): string {
  return `${v.backward ? 'bwd' : 'fwd'}-${v.causal ? 'causal' : 'full'}-wg${v.workgroupSize}`;
}

/**
 * Row softmax of `scale · s` (attention scores), masked causally when asked: row r of a
 * `[blocks, T, T]` tensor is query t = r mod T and keeps columns j ≤ t (the rest are written 0).
 * Backward: ds = scale · p ⊙ (dp − Σⱼ p·dp). One workgroup per row, max-subtracted exponentials.
 */
export function softmaxWgsl(v: SoftmaxVariant): string {
  const WG = v.workgroupSize;
  const reduce = (name: string, op: (a: string, b: string) => string) => `
  workgroupBarrier();
  for (var half = ${WG / 2}u; half > 0u; half = half / 2u) {
    if (lid < half) {
      ${name}[lid] = ${op(`${name}[lid]`, `${name}[lid + half]`)};
    }
    workgroupBarrier();
  }`;
  const bindings = v.backward
    ? `@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> dp: array<f32>;
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;`;
  const body = v.backward
    ? `  var dot = 0.0;
  for (var j = lid; j < valid; j += ${WG}u) {
    dot += p[base + j] * dp[base + j];
  }
  partial[lid] = dot;
${reduce('partial', (a, b) => `${a} + ${b}`)}
  let total = partial[0];
  for (var j = lid; j < params.cols; j += ${WG}u) {
    ds[base + j] = select(0.0, params.scale * p[base + j] * (dp[base + j] - total), j < valid);
  }`
    : `  var m = -3.0e38;
  for (var j = lid; j < valid; j += ${WG}u) {
    m = max(m, params.scale * s[base + j]);
  }
  partial[lid] = m;
${reduce('partial', (a, b) => `max(${a}, ${b})`)}
  let row_max = partial[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var j = lid; j < valid; j += ${WG}u) {
    sum += exp(params.scale * s[base + j] - row_max);
  }
  partial[lid] = sum;
${reduce('partial', (a, b) => `${a} + ${b}`)}
  let inv = 1.0 / partial[0];
  for (var j = lid; j < params.cols; j += ${WG}u) {
    p[base + j] = select(0.0, exp(params.scale * s[base + j] - row_max) * inv, j < valid);
  }`;
  return `
struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
${bindings}
var<workgroup> partial: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  let valid = ${v.causal ? 'min(row % params.cols + 1u, params.cols)' : 'params.cols'};
${body}
}
`;
}
