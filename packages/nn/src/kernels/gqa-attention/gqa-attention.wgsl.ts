import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';

export interface GqaAttentionVariant {
  /** forward: out and the row log-sum-exp; dq: dq and δ = dout·out; dkdv: dk and dv. */
  pass: 'forward' | 'dq' | 'dkdv';
  /** Compile-time: each invocation keeps one or two head vectors in registers. */
  headDim: number;
  workgroupSize: number;
}

const READ = { type: 'array<f32>', access: 'read' } as const;
const WRITE = { type: 'array<f32>', access: 'read_write' } as const;

/**
 * Fused grouped-query causal attention for small heads (FlashAttention-style, one invocation per
 * output row, no [T, T] matrix in memory):
 * - forward, one invocation per (sequence, query head, row t): an online softmax over keys j ≤ t
 *   (running max m and sum l, the accumulator rescaled by e^(m_old − m_new)), writes out_t and
 *   L_t = m + ln l;
 * - dq, one per (sequence, query head, row t): δ_t = dout_t·out_t, P_tj = e^(s_tj − L_t),
 *   dq_t = scale·Σ_j P_tj(dout_t·v_j − δ_t)·k_j; saves δ_t for the next pass;
 * - dkdv, one per (sequence, kv head, key row j): sums over the query heads of its group and the rows
 *   t ≥ j in a fixed order (deterministic, no atomics): dv_j = Σ P_tj·dout_t,
 *   dk_j = scale·Σ P_tj(dout_t·v_j − δ_t)·q_t.
 * Row t of sequence b is row b·context + t; head h of a row is columns [h·dh, (h+1)·dh).
 */
export const gqaAttentionKernel = defineKernel({
  name: 'nn.gqa-attention',
  uniforms: { count: 'u32', context: 'u32', heads: 'u32', kv_heads: 'u32', group: 'u32', scale: 'f32' },
  bindings: (v: GqaAttentionVariant) => ({
    q: READ,
    k: READ,
    v: READ,
    out: v.pass !== 'dkdv' && (v.pass === 'forward' ? WRITE : READ),
    lse: v.pass === 'forward' ? WRITE : READ,
    dout: v.pass !== 'forward' && READ,
    delta: v.pass !== 'forward' && (v.pass === 'dq' ? WRITE : READ),
    dq: v.pass === 'dq' && WRITE,
    dk: v.pass === 'dkdv' && WRITE,
    dv: v.pass === 'dkdv' && WRITE,
  }),
  wgsl: (v, k) => wgsl`${k.header}
const HD: u32 = ${v.headDim}u;

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i >= params.count) {
    return;
  }
  let T = params.context;
  let q_width = params.heads * HD;
  let kv_width = params.kv_heads * HD;
#if ${v.pass !== 'dkdv'}
  // Query rows vary fastest: neighbouring invocations walk the same keys.
  let t = i % T;
  let bh = i / T;
  let h = bh % params.heads;
  let row0 = (bh / params.heads) * T;
  let g = h / params.group;
  let qb = (row0 + t) * q_width + h * HD;
  var qs: array<f32, HD>;
  for (var e = 0u; e < HD; e++) {
    qs[e] = q[qb + e] * params.scale;
  }
#endif
#if ${v.pass === 'forward'}
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, HD>;
  for (var j = 0u; j <= t; j++) {
    let kb = (row0 + j) * kv_width + g * HD;
    var s = 0.0;
    for (var e = 0u; e < HD; e++) {
      s += qs[e] * k[kb + e];
    }
    let m_new = max(m, s);
    let rescale = exp(m - m_new);
    let p = exp(s - m_new);
    l = l * rescale + p;
    for (var e = 0u; e < HD; e++) {
      acc[e] = acc[e] * rescale + p * v[kb + e];
    }
    m = m_new;
  }
  let inv = 1.0 / l;
  for (var e = 0u; e < HD; e++) {
    out[qb + e] = acc[e] * inv;
  }
  lse[(row0 + t) * params.heads + h] = m + log(l);
#elif ${v.pass === 'dq'}
  var dos: array<f32, HD>;
  var d = 0.0;
  for (var e = 0u; e < HD; e++) {
    dos[e] = dout[qb + e];
    d += dos[e] * out[qb + e];
  }
  let L = lse[(row0 + t) * params.heads + h];
  var acc: array<f32, HD>;
  for (var j = 0u; j <= t; j++) {
    let kb = (row0 + j) * kv_width + g * HD;
    var s = 0.0;
    var dp = 0.0;
    for (var e = 0u; e < HD; e++) {
      s += qs[e] * k[kb + e];
      dp += dos[e] * v[kb + e];
    }
    let ds = exp(s - L) * (dp - d);
    for (var e = 0u; e < HD; e++) {
      acc[e] += ds * k[kb + e];
    }
  }
  for (var e = 0u; e < HD; e++) {
    dq[qb + e] = acc[e] * params.scale;
  }
  delta[(row0 + t) * params.heads + h] = d;
#else
  // Key rows vary fastest: neighbouring invocations walk the same queries.
  let j = i % T;
  let bg = i / T;
  let g = bg % params.kv_heads;
  let row0 = (bg / params.kv_heads) * T;
  let kb = (row0 + j) * kv_width + g * HD;
  var ks: array<f32, HD>;
  var vj: array<f32, HD>;
  for (var e = 0u; e < HD; e++) {
    ks[e] = k[kb + e] * params.scale;
    vj[e] = v[kb + e];
  }
  var dk_acc: array<f32, HD>;
  var dv_acc: array<f32, HD>;
  for (var hh = 0u; hh < params.group; hh++) {
    let h = g * params.group + hh;
    for (var t = j; t < T; t++) {
      let qb = (row0 + t) * q_width + h * HD;
      let stat = (row0 + t) * params.heads + h;
      var s = 0.0;
      var dp = 0.0;
      for (var e = 0u; e < HD; e++) {
        s += q[qb + e] * ks[e];
        dp += dout[qb + e] * vj[e];
      }
      let p = exp(s - lse[stat]);
      let ds = p * (dp - delta[stat]);
      for (var e = 0u; e < HD; e++) {
        dv_acc[e] += p * dout[qb + e];
        dk_acc[e] += ds * q[qb + e];
      }
    }
  }
  for (var e = 0u; e < HD; e++) {
    dk[kb + e] = dk_acc[e] * params.scale;
    dv[kb + e] = dv_acc[e];
  }
#endif
}
`,
});
