export interface EmbeddingVariant {
  pass: 'gather' | 'scatter' | 'position-grad';
  /** gather: also add `positions[row % context]` (learned absolute positions). */
  positional: boolean;
  /** scatter / position-grad: add into the gradient instead of overwriting it. */
  accumulate: boolean;
  workgroupSize: number;
}

export function embeddingCacheKey(v: EmbeddingVariant): string {
  return `${v.pass}-${v.positional ? 'pos' : 'nopos'}-${v.accumulate ? 'acc' : 'set'}-wg${v.workgroupSize}`;
}

/**
 * Embedding lookup and its gradient.
 * - gather: out[r, :] = table[ids[r], :] (+ positions[r % context, :]); ids outside the table are
 *   clamped to it (validate ids where they are made: the tokenizer never produces them);
 * - scatter: dTable[v, :] (+)= Σ over rows with ids[r] = v of dOut[r, :] — one workgroup per table
 *   row walking the ids in order: no float atomics (WGSL has none), and the sum is deterministic;
 * - position-grad: dPositions[t, :] (+)= Σ over batch of dOut[b·context + t, :].
 */
export function embeddingWgsl(v: EmbeddingVariant): string {
  const WG = v.workgroupSize;
  const header = `
struct Params {
  rows: u32,
  dim: u32,
  vocab: u32,
  context: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
`;
  const entry = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;`;
  if (v.pass === 'gather') {
    return `${header}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${v.positional ? '@group(0) @binding(4) var<storage, read> positions: array<f32>;' : ''}

${entry}
  let row = group;
  if (row >= params.rows) {
    return;
  }
  let id = u32(clamp(ids[row], 0, i32(params.vocab) - 1));
  for (var d = lid; d < params.dim; d += ${WG}u) {
    out[row * params.dim + d] = table[id * params.dim + d]${v.positional ? ' + positions[(row % params.context) * params.dim + d]' : ''};
  }
}
`;
  }
  if (v.pass === 'scatter') {
    return `${header}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> grad_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_table: array<f32>;

${entry}
  let token = group;
  if (token >= params.vocab) {
    return;
  }
  for (var d = lid; d < params.dim; d += ${WG}u) {
    var sum = 0.0;
    for (var r = 0u; r < params.rows; r++) {
      if (u32(clamp(ids[r], 0, i32(params.vocab) - 1)) == token) {
        sum += grad_out[r * params.dim + d];
      }
    }
    ${v.accumulate ? 'grad_table[token * params.dim + d] += sum;' : 'grad_table[token * params.dim + d] = sum;'}
  }
}
`;
  }
  return `${header}
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_positions: array<f32>;

${entry}
  let t = group;
  if (t >= params.context) {
    return;
  }
  for (var d = lid; d < params.dim; d += ${WG}u) {
    var sum = 0.0;
    for (var r = t; r < params.rows; r += params.context) {
      sum += grad_out[r * params.dim + d];
    }
    ${v.accumulate ? 'grad_positions[t * params.dim + d] += sum;' : 'grad_positions[t * params.dim + d] = sum;'}
  }
}
`;
}
