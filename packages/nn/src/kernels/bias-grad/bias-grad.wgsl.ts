import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';

export interface BiasGradVariant {
  /** db ← db + Σ rows instead of db ← Σ rows. */
  accumulate: boolean;
  workgroupSize: number;
}

/**
 * Column sums of a row-major `[rows, cols]` gradient: the gradient of a bias added to every row.
 * One thread per column walks the rows in order, so the sum is deterministic.
 */
export const biasGradKernel = defineKernel({
  name: 'nn.bias-grad',
  uniforms: { rows: 'u32', cols: 'u32' },
  bindings: (_v: BiasGradVariant) => ({
    grad: { type: 'array<f32>', access: 'read' },
    db: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: (v, k) => wgsl`${k.header}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  if (col >= params.cols) {
    return;
  }
  var sum = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    sum += grad[r * params.cols + col];
  }
#if ${v.accumulate}
  db[col] = db[col] + sum;
#else
  db[col] = sum;
#endif
}
`,
});
