export interface BiasGradVariant {
  /** db ← db + Σ rows instead of db ← Σ rows. */
  accumulate: boolean;
  workgroupSize: number;
}

export function biasGradCacheKey(v: BiasGradVariant): string {
  return `${v.accumulate ? 'acc' : 'set'}-wg${v.workgroupSize}`;
}

/**
 * Column sums of a row-major `[rows, cols]` gradient: the gradient of a bias added to every row.
 * One thread per column walks the rows in order, so the sum is deterministic.
 */
export function biasGradWgsl(v: BiasGradVariant): string {
  return `
struct Params {
  rows: u32,
  cols: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

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
  ${v.accumulate ? 'db[col] = db[col] + sum;' : 'db[col] = sum;'}
}
`;
}
