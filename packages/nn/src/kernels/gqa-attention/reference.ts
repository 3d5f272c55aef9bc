export interface GqaShape {
  /** Independent sequences; rows are `[sequences · context]`, sequence-major. */
  sequences: number;
  context: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads; `heads` is a multiple of it, and query head h reads kv head ⌊h / (heads/kvHeads)⌋. */
  kvHeads: number;
  headDim: number;
}

interface Views {
  q: (r: number, h: number, e: number) => number;
  k: (r: number, g: number, e: number) => number;
  v: (r: number, g: number, e: number) => number;
}

function views(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: GqaShape): Views {
  const dh = s.headDim;
  return {
    q: (r, h, e) => q[r * s.heads * dh + h * dh + e]!,
    k: (r, g, e) => k[r * s.kvHeads * dh + g * dh + e]!,
    v: (r, g, e) => v[r * s.kvHeads * dh + g * dh + e]!,
  };
}

/** P[t][j] (j ≤ t) of query head h in sequence b: causal softmax(q·kᵀ/√dh). */
function probabilities(x: Views, s: GqaShape, b: number, h: number): number[][] {
  const T = s.context;
  const g = Math.floor(h / (s.heads / s.kvHeads));
  const scale = 1 / Math.sqrt(s.headDim);
  const rows: number[][] = [];
  for (let t = 0; t < T; t++) {
    const scores: number[] = [];
    for (let j = 0; j <= t; j++) {
      let dot = 0;
      for (let e = 0; e < s.headDim; e++) dot += x.q(b * T + t, h, e) * x.k(b * T + j, g, e);
      scores.push(dot * scale);
    }
    const m = Math.max(...scores);
    const w = scores.map((z) => Math.exp(z - m));
    const z = w.reduce((a, c) => a + c, 0);
    rows.push(w.map((p) => p / z));
  }
  return rows;
}

/**
 * Float64 grouped-query causal attention: `q [R, heads·dh]`, `k, v [R, kvHeads·dh]` → `out [R, heads·dh]`,
 * out_t(h) = Σ_{j ≤ t} softmax_j(q_t(h)·k_j(g)/√dh)·v_j(g) within each sequence, g = ⌊h·kvHeads/heads⌋.
 */
export function gqaAttentionReference(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: GqaShape): Float64Array {
  const x = views(q, k, v, s);
  const T = s.context;
  const dh = s.headDim;
  const out = new Float64Array(s.sequences * T * s.heads * dh);
  for (let b = 0; b < s.sequences; b++) {
    for (let h = 0; h < s.heads; h++) {
      const g = Math.floor(h / (s.heads / s.kvHeads));
      const p = probabilities(x, s, b, h);
      for (let t = 0; t < T; t++) {
        for (let e = 0; e < dh; e++) {
          let o = 0;
          for (let j = 0; j <= t; j++) o += p[t]![j]! * x.v(b * T + j, g, e);
          out[(b * T + t) * s.heads * dh + h * dh + e] = o;
        }
      }
    }
  }
  return out;
}

/**
 * Float64 gradients of Σ dout ⊙ attention(q, k, v): dv_j = Σ_t P_tj·dout_t, dP_tj = dout_t·v_j,
 * dS = P ⊙ (dP − Σ_j P·dP), dq_t = dS_t·k/√dh, dk_j = Σ_t dS_tj·q_t/√dh; dk and dv summed over the
 * query heads that share a kv head.
 */
export function gqaAttentionBackwardReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dout: ArrayLike<number>,
  s: GqaShape,
) {
  const x = views(q, k, v, s);
  const T = s.context;
  const dh = s.headDim;
  const scale = 1 / Math.sqrt(dh);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const qAt = (r: number, h: number) => r * s.heads * dh + h * dh;
  const kAt = (r: number, g: number) => r * s.kvHeads * dh + g * dh;
  for (let b = 0; b < s.sequences; b++) {
    for (let h = 0; h < s.heads; h++) {
      const g = Math.floor(h / (s.heads / s.kvHeads));
      const p = probabilities(x, s, b, h);
      for (let t = 0; t < T; t++) {
        const rt = b * T + t;
        const dp: number[] = [];
        for (let j = 0; j <= t; j++) {
          let d = 0;
          for (let e = 0; e < dh; e++) d += dout[qAt(rt, h) + e]! * x.v(b * T + j, g, e);
          dp.push(d);
        }
        let delta = 0;
        for (let j = 0; j <= t; j++) delta += p[t]![j]! * dp[j]!;
        for (let j = 0; j <= t; j++) {
          const rj = b * T + j;
          const ds = p[t]![j]! * (dp[j]! - delta) * scale;
          for (let e = 0; e < dh; e++) {
            dq[qAt(rt, h) + e]! += ds * x.k(rj, g, e);
            dk[kAt(rj, g) + e]! += ds * x.q(rt, h, e);
            dv[kAt(rj, g) + e]! += p[t]![j]! * dout[qAt(rt, h) + e]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
