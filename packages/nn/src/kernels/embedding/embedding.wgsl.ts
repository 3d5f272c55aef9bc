import { defineKernel, wgsl, type BindingTable } from '@distillery/webgpu/wgsl';

export interface EmbeddingVariant {
  pass: 'gather' | 'scatter' | 'position-grad';
  /** gather: also add `positions[row % context]` (learned absolute positions). */
  positional: boolean;
  /** scatter / position-grad: add into the gradient instead of overwriting it. */
  accumulate: boolean;
  workgroupSize: number;
}

const READ = { type: 'array<f32>', access: 'read' } as const;
const WRITE = { type: 'array<f32>', access: 'read_write' } as const;
const IDS = { type: 'array<i32>', access: 'read' } as const;

/**
 * Embedding lookup and its gradient.
 * - gather: out[r, :] = table[ids[r], :] (+ positions[r % context, :]); ids outside the table are
 *   clamped to it (validate ids where they are made: the tokenizer never produces them);
 * - scatter: dTable[v, :] (+)= Σ over rows with ids[r] = v of dOut[r, :] — one workgroup per table
 *   row walking the ids in order: no float atomics (WGSL has none), and the sum is deterministic;
 * - position-grad: dPositions[t, :] (+)= Σ over batch of dOut[b·context + t, :].
 */
export const embeddingKernel = defineKernel({
  name: 'nn.embedding',
  uniforms: { rows: 'u32', dim: 'u32', vocab: 'u32', context: 'u32' },
  bindings: (v: EmbeddingVariant): BindingTable =>
    v.pass === 'gather'
      ? { ids: IDS, table: READ, out: WRITE, positions: v.positional && READ }
      : v.pass === 'scatter'
        ? { ids: IDS, grad_out: READ, grad_table: WRITE }
        : { grad_out: READ, grad_positions: WRITE },
  wgsl: (v, k) => {
    const WG = v.workgroupSize;
    const entry = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;`;
    if (v.pass === 'gather') {
      return wgsl`${k.header}

${entry}
  let row = group;
  if (row >= params.rows) {
    return;
  }
  let id = u32(clamp(ids[row], 0, i32(params.vocab) - 1));
  for (var d = lid; d < params.dim; d += ${WG}u) {
#if ${v.positional}
    out[row * params.dim + d] = table[id * params.dim + d] + positions[(row % params.context) * params.dim + d];
#else
    out[row * params.dim + d] = table[id * params.dim + d];
#endif
  }
}
`;
    }
    const [target, index] = v.pass === 'scatter' ? ['grad_table', 'token'] : ['grad_positions', 't'];
    const store = v.accumulate ? `${target}[${index} * params.dim + d] += sum;` : `${target}[${index} * params.dim + d] = sum;`;
    if (v.pass === 'scatter') {
      return wgsl`${k.header}

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
    ${store}
  }
}
`;
    }
    return wgsl`${k.header}

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
    ${store}
  }
}
`;
  },
});
