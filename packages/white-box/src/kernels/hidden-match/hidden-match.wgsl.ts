import { defineKernel, wgsl, workgroupReduce } from '@distillery/webgpu/wgsl';

export type HiddenMatchLoss = 'mse' | 'cosine';

export interface HiddenMatchVariant {
  loss: HiddenMatchLoss;
  workgroupSize: number;
  /** The row reduction through subgroup operations (the device has `subgroups`). */
  subgroups?: boolean;
}

/**
 * One workgroup per row r of `predicted` y (the projected student state) and `target` t (the
 * teacher state), both [rows, width]:
 *   mse:    ℓ_r = Σ_j (y_j − t_j)² / width,             ∂ℓ_r/∂y = 2 (y − t) / width
 *   cosine: ℓ_r = 1 − y·t / (max(‖y‖, ε) · max(‖t‖, ε)), ∂ℓ_r/∂y = −t / (ny·nt) + c · y / ny²
 *           (ny, nt the clamped norms, c the cosine; the second term is 0 while ‖y‖ ≤ ε, where
 *           the clamp makes the denominator constant), ε = 1e-8 as torch.nn.functional.cosine_similarity.
 * Writes the unweighted ℓ_r to `perRow` and `scale · ∂ℓ_r/∂y` to `grad` (scale = weight / rows).
 */
export const hiddenMatchKernel = defineKernel({
  name: 'hidden-match',
  uniforms: { rows: 'u32', width: 'u32', scale: 'f32' },
  bindings: (_v: HiddenMatchVariant) => ({
    predicted: { type: 'array<f32>', access: 'read' },
    teacher: { type: 'array<f32>', access: 'read' },
    perRow: { type: 'array<f32>', access: 'read_write' },
    grad: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: ({ loss, workgroupSize, subgroups = false }, k) => wgsl`${k.header}

const EPS: f32 = 1e-8;

// Three partial sums per lane: (Σ(y−t)², 0, 0) for MSE, (Σ y·t, Σ y², Σ t²) for cosine.
${workgroupReduce({ name: 'reduceSum', op: 'sum', type: 'vec3<f32>', workgroupSize, subgroups })}
@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let n = params.width;
  let base = row * n;
  var partial = vec3<f32>(0.0);
  for (var j = lid; j < n; j = j + ${workgroupSize}u) {
    let y = predicted[base + j];
    let t = teacher[base + j];
#if ${loss === 'mse'}
    let d = y - t;
    partial.x = partial.x + d * d;
#else
    partial = partial + vec3<f32>(y * t, y * y, t * t);
#endif
  }
  let sums = reduceSum(lid, partial);
#if ${loss === 'mse'}
  let invWidth = 1.0 / f32(n);
  if (lid == 0u) { perRow[row] = sums.x * invWidth; }
  let g = 2.0 * params.scale * invWidth;
  for (var j = lid; j < n; j = j + ${workgroupSize}u) {
    grad[base + j] = g * (predicted[base + j] - teacher[base + j]);
  }
#else
  let ny = sqrt(sums.y);
  let nyc = max(ny, EPS);
  let ntc = max(sqrt(sums.z), EPS);
  let cosine = sums.x / (nyc * ntc);
  if (lid == 0u) { perRow[row] = 1.0 - cosine; }
  let onT = -params.scale / (nyc * ntc);
  let onY = select(0.0, params.scale * cosine / (nyc * nyc), ny > EPS);
  for (var j = lid; j < n; j = j + ${workgroupSize}u) {
    grad[base + j] = onT * teacher[base + j] + onY * predicted[base + j];
  }
#endif
}
`,
});

/** The WGSL of a variant. */
export const hiddenMatchWgsl = (variant: HiddenMatchVariant): string => hiddenMatchKernel.wgsl(variant);
