import { defineKernel, wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';

/** Workgroups per tensor in the first pass; each writes one partial sum of squares. */
export const NORM_PARTIALS = 32;
/** Layout of the stats buffer the optimisers read: [Σg², clip scale, finite flag, unused, Σg² per tensor...]. */
export const STATS_TOTAL = 0;
export const STATS_SCALE = 1;
export const STATS_FINITE = 2;
export const STATS_PER_TENSOR = 4;

export const FINITE_WGSL = /* wgsl */ `
fn is_finite(x: f32) -> bool {
  // WGSL lets compilers assume values are finite, so test the exponent bits instead of x != x.
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}
`;

export interface SumSquaresVariant {
  workgroupSize: number;
  /** The in-workgroup reduction through subgroup operations (the device has `subgroups`). */
  subgroups?: boolean;
}

/**
 * Pass 1: partial sums of squares of one tensor, `NORM_PARTIALS` workgroups striding over it, a
 * fixed-order reduction in each: the result does not depend on timing, so runs replay exactly.
 */
export const sumSquaresKernel = defineKernel({
  name: 'nn.sum-squares',
  uniforms: { count: 'u32', slot: 'u32' },
  bindings: (_v: SumSquaresVariant) => ({
    x: { type: 'array<f32>', access: 'read' },
    partials: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: ({ workgroupSize, subgroups = false }, k) => wgsl`${k.header}
${workgroupReduce({ name: 'groupSum', op: 'sum', workgroupSize, subgroups })}
@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  let stride = ${workgroupSize * NORM_PARTIALS}u;
  for (var i = wid.x * ${workgroupSize}u + lid; i < params.count; i += stride) {
    let v = x[i];
    sum += v * v;
  }
  let total = groupSum(lid, sum);
  if (lid == 0u) {
    partials[params.slot * ${NORM_PARTIALS}u + wid.x] = total;
  }
}
`,
});

/**
 * Pass 2 (one workgroup): per-tensor sums, the global Σg², the clip scale
 * min(1, maxNorm / (‖g‖ + 1e-6)) (1 when maxNorm is 0) and a finite flag the update kernels obey.
 */
export const gradNormFinalizeKernel = defineKernel({
  name: 'nn.grad-norm-finalize',
  uniforms: { tensors: 'u32', max_norm: { type: 'f32', nonFinite: true } },
  bindings: (_v: Record<string, never>) => ({
    partials: { type: 'array<f32>', access: 'read' },
    stats: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: (_v, k) => `${k.header}
${FINITE_WGSL}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var s = lid; s < params.tensors; s += 64u) {
    var sum = 0.0;
    for (var j = 0u; j < ${NORM_PARTIALS}u; j++) {
      sum += partials[s * ${NORM_PARTIALS}u + j];
    }
    stats[${STATS_PER_TENSOR}u + s] = sum;
  }
  storageBarrier();
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var s = 0u; s < params.tensors; s++) {
      total += stats[${STATS_PER_TENSOR}u + s];
    }
    let finite = is_finite(total);
    var scale = 1.0;
    if (params.max_norm > 0.0 && finite) {
      scale = min(1.0, params.max_norm / (sqrt(total) + 1e-6));
    }
    stats[${STATS_TOTAL}u] = total;
    stats[${STATS_SCALE}u] = scale;
    stats[${STATS_FINITE}u] = select(0.0, 1.0, finite);
  }
}
`,
});
