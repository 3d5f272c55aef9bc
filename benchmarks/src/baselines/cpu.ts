/** The divergences the CPU loop and the tfjs composition compute (JSD is left to PyTorch). */
export type HostDivergence = 'forward-kl' | 'reverse-kl';

export interface HostKdHyper {
  temperature: number;
  softWeight: number;
  hardWeight: number;
  /** Default 'forward-kl'. */
  divergence?: HostDivergence;
}

/**
 * The CPU baseline: what a JavaScript user writes without a GPU, a plain loop over Float32Arrays
 * (two passes per row for the log-normalisers, one for loss and gradient; reverse KL one more, as
 * its gradient needs the row's D). Same math as the fused kernel: the divergence at temperature T
 * (× T²) plus hard-label cross-entropy at T = 1, ÷ rows.
 */
export function cpuKdLoss(
  z: Float32Array,
  t: Float32Array,
  labels: Int32Array,
  rows: number,
  vocab: number,
  { temperature, softWeight, hardWeight, divergence = 'forward-kl' }: HostKdHyper,
  grad: Float32Array,
): number {
  const invT = 1 / temperature;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let zm = -Infinity;
    let tm = -Infinity;
    for (let j = 0; j < vocab; j++) {
      if (z[o + j]! > zm) zm = z[o + j]!;
      if (t[o + j]! > tm) tm = t[o + j]!;
    }
    let zs = 0;
    let zs1 = 0;
    let ts = 0;
    for (let j = 0; j < vocab; j++) {
      zs += Math.exp((z[o + j]! - zm) * invT);
      zs1 += Math.exp(z[o + j]! - zm);
      ts += Math.exp((t[o + j]! - tm) * invT);
    }
    const lzs = Math.log(zs);
    const lzs1 = Math.log(zs1);
    const lts = Math.log(ts);
    const y = labels[r]!;
    let d = 0;
    if (divergence === 'forward-kl') {
      for (let j = 0; j < vocab; j++) {
        const lq = (z[o + j]! - zm) * invT - lzs;
        const lp = (t[o + j]! - tm) * invT - lts;
        const q = Math.exp(lq);
        const p = Math.exp(lp);
        d += p * (lp - lq);
        const q1 = Math.exp(z[o + j]! - zm - lzs1);
        grad[o + j] = (softWeight * temperature * (q - p) + hardWeight * (q1 - (j === y ? 1 : 0))) / rows;
      }
    } else {
      for (let j = 0; j < vocab; j++) {
        const lq = (z[o + j]! - zm) * invT - lzs;
        const lp = (t[o + j]! - tm) * invT - lts;
        d += Math.exp(lq) * (lq - lp);
      }
      for (let j = 0; j < vocab; j++) {
        const lq = (z[o + j]! - zm) * invT - lzs;
        const lp = (t[o + j]! - tm) * invT - lts;
        const q1 = Math.exp(z[o + j]! - zm - lzs1);
        // ∂KL(q‖p)/∂(z_j/T) = q_j (ln q_j − ln p_j − D); ×T² for the loss, ÷T for z.
        grad[o + j] = (softWeight * temperature * Math.exp(lq) * (lq - lp - d) + hardWeight * (q1 - (j === y ? 1 : 0))) / rows;
      }
    }
    total += softWeight * temperature * temperature * d + hardWeight * (lzs1 - (z[o + y]! - zm));
  }
  return total / rows;
}

/** softmax(z/T) row by row, the plain-loop way. */
export function cpuSoftmax(z: Float32Array, rows: number, vocab: number, temperature: number, out: Float32Array): void {
  const invT = 1 / temperature;
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) if (z[o + j]! > m) m = z[o + j]!;
    let s = 0;
    for (let j = 0; j < vocab; j++) {
      const e = Math.exp((z[o + j]! - m) * invT);
      out[o + j] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let j = 0; j < vocab; j++) out[o + j] = out[o + j]! * inv;
  }
}
