/** Float64 reference of RMSNorm over the last dimension: y = x · rsqrt(mean(x²) + eps) · w. */
export function rmsNormReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  cols: number,
  eps: number,
): { y: Float64Array; rstd: Float64Array } {
  const rows = x.length / cols;
  const y = new Float64Array(x.length);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let d = 0; d < cols; d++) q += x[r * cols + d]! ** 2;
    const inv = 1 / Math.sqrt(q / cols + eps);
    rstd[r] = inv;
    for (let d = 0; d < cols; d++) y[r * cols + d] = x[r * cols + d]! * inv * weight[d]!;
  }
  return { y, rstd };
}

/**
 * Float64 gradients of RMSNorm: with g = dy·w and ρ = rstd,
 * dx = ρ·(g − x·ρ²·mean(g·x)), dw = Σrows dy·x·ρ.
 */
export function rmsNormBackwardReference(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  cols: number,
  eps: number,
) {
  const rows = x.length / cols;
  const { rstd } = rmsNormReference(x, weight, cols, eps);
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const rho = rstd[r]!;
    let gx = 0;
    for (let d = 0; d < cols; d++) {
      const i = r * cols + d;
      gx += dy[i]! * weight[d]! * x[i]!;
      dweight[d]! += dy[i]! * x[i]! * rho;
    }
    for (let d = 0; d < cols; d++) {
      const i = r * cols + d;
      dx[i] = rho * (dy[i]! * weight[d]! - (x[i]! * rho * rho * gx) / cols);
    }
  }
  return { dx, dweight, rstd };
}
