import { defineKernel, wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';

export interface MixtureVariant {
  workgroupSize: number;
  /** Row reductions through subgroup operations (the device has `subgroups`). */
  subgroups?: boolean;
}

/**
 * Logits of a weighted mixture of tempered softmaxes: for each row,
 *   out = T · log Σ_k w_k · softmax(z_k / T),
 * so softmax(out / T) is exactly the mixture Hinton averages. Teachers are stacked [K, rows, V].
 * A row whose mixture is 0 everywhere (all teachers fully masked) gets -inf logits, never NaN.
 */
export const mixtureKernel = defineKernel({
  name: 'ensemble-mixture',
  uniforms: { teachers: 'u32', rows: 'u32', vocab: 'u32', temperature: 'f32' },
  bindings: (_v: MixtureVariant) => ({
    stacked: { type: 'array<f32>', access: 'read' },
    weights: { type: 'array<f32>', access: 'read' },
    out: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: ({ workgroupSize, subgroups = false }, k) => wgsl`${k.header}

${workgroupReduce({ name: 'reduceMax', op: 'max', workgroupSize, subgroups })}
${workgroupReduce({ name: 'reduceSum', op: 'sum', workgroupSize, subgroups })}
@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let v = params.vocab;
  let invT = 1.0 / params.temperature;
  // Pass 1: each teacher's row max and partition function at T, folded into its weight.
  // Pass 2: accumulate the weighted probabilities per column, then take T · log.
  for (var i = lid; i < v; i = i + ${workgroupSize}u) { out[row * v + i] = 0.0; }
  for (var k = 0u; k < params.teachers; k = k + 1u) {
    let base = (k * params.rows + row) * v;
    var m = -3.402823e38;
    for (var i = lid; i < v; i = i + ${workgroupSize}u) { m = max(m, stacked[base + i] * invT); }
    m = reduceMax(lid, m);
    var s = 0.0;
    for (var i = lid; i < v; i = i + ${workgroupSize}u) { s = s + exp(stacked[base + i] * invT - m); }
    s = reduceSum(lid, s);
    if (s > 0.0) {
      let scale = weights[k] / s;
      for (var i = lid; i < v; i = i + ${workgroupSize}u) { out[row * v + i] = out[row * v + i] + scale * exp(stacked[base + i] * invT - m); }
    }
  }
  // -inf cannot be a WGSL constant; build it from a runtime value so it is not const-folded.
  let negativeInfinity = bitcast<f32>(0xff800000u | (params.rows & 0u));
  for (var i = lid; i < v; i = i + ${workgroupSize}u) {
    let p = out[row * v + i];
    out[row * v + i] = select(negativeInfinity, params.temperature * log(p), p > 0.0);
  }
}
`,
});

/** The WGSL of a variant. */
export const mixtureWgsl = (variant: MixtureVariant): string => mixtureKernel.wgsl(variant);
