import { defineKernel, wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';

export interface SoftmaxVariant {
  backward: boolean;
  /** Row i of each [T, T] block sees columns 0..i only (causal attention). */
  causal: boolean;
  workgroupSize: number;
  /** Row reductions through subgroup operations (the device has `subgroups`). */
  subgroups: boolean;
}

/**
 * Row softmax of `scale · s` (attention scores), masked causally when asked: row r of a
 * `[blocks, T, T]` tensor is query t = r mod T and keeps columns j ≤ t (the rest are written 0).
 * Backward: ds = scale · p ⊙ (dp − Σⱼ p·dp). One workgroup per row, max-subtracted exponentials.
 */
export const softmaxKernel = defineKernel({
  name: 'nn.softmax',
  uniforms: { rows: 'u32', cols: 'u32', scale: 'f32' },
  bindings: (v: SoftmaxVariant) =>
    v.backward
      ? {
          p: { type: 'array<f32>', access: 'read' },
          dp: { type: 'array<f32>', access: 'read' },
          ds: { type: 'array<f32>', access: 'read_write' },
        }
      : { s: { type: 'array<f32>', access: 'read' }, p: { type: 'array<f32>', access: 'read_write' } },
  wgsl: (v, k) => {
    const WG = v.workgroupSize;
    return wgsl`${k.header}
${workgroupReduce({ name: 'rowSum', op: 'sum', workgroupSize: WG, subgroups: v.subgroups })}
#if ${!v.backward}
${workgroupReduce({ name: 'rowMax', op: 'max', workgroupSize: WG, subgroups: v.subgroups })}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
#if ${v.causal}
  let valid = min(row % params.cols + 1u, params.cols);
#else
  let valid = params.cols;
#endif
#if ${v.backward}
  var dot = 0.0;
  for (var j = lid; j < valid; j += ${WG}u) {
    dot += p[base + j] * dp[base + j];
  }
  let total = rowSum(lid, dot);
  for (var j = lid; j < params.cols; j += ${WG}u) {
    ds[base + j] = select(0.0, params.scale * p[base + j] * (dp[base + j] - total), j < valid);
  }
#else
  var m = -3.0e38;
  for (var j = lid; j < valid; j += ${WG}u) {
    m = max(m, params.scale * s[base + j]);
  }
  let row_max = rowMax(lid, m);
  var sum = 0.0;
  for (var j = lid; j < valid; j += ${WG}u) {
    sum += exp(params.scale * s[base + j] - row_max);
  }
  let inv = 1.0 / rowSum(lid, sum);
  for (var j = lid; j < params.cols; j += ${WG}u) {
    p[base + j] = select(0.0, exp(params.scale * s[base + j] - row_max) * inv, j < valid);
  }
#endif
}
`;
  },
});
