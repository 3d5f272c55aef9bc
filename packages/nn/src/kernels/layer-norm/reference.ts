/** Float64 reference of layer norm over the last dimension, forward and backward. */
export function layerNormReference(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, cols: number, eps = 1e-5) {
  const rows = x.length / cols;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < cols; d++) s += x[r * cols + d]!;
    const m = s / cols;
    let q = 0;
    for (let d = 0; d < cols; d++) q += (x[r * cols + d]! - m) ** 2;
    const inv = 1 / Math.sqrt(q / cols + eps);
    mean[r] = m;
    rstd[r] = inv;
    for (let d = 0; d < cols; d++) y[r * cols + d] = (x[r * cols + d]! - m) * inv * gamma[d]! + beta[d]!;
  }
  return { y, mean, rstd };
}

export function layerNormBackwardReference(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  cols: number,
  eps = 1e-5,
) {
  const rows = x.length / cols;
  const { mean, rstd } = layerNormReference(x, gamma, new Float64Array(cols), cols, eps);
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(cols);
  const dbeta = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    for (let d = 0; d < cols; d++) {
      const i = r * cols + d;
      const xhat = (x[i]! - mean[r]!) * rstd[r]!;
      const g = dy[i]! * gamma[d]!;
      a += g;
      b += g * xhat;
      dgamma[d]! += dy[i]! * xhat;
      dbeta[d]! += dy[i]!;
    }
    for (let d = 0; d < cols; d++) {
      const i = r * cols + d;
      const xhat = (x[i]! - mean[r]!) * rstd[r]!;
      dx[i] = rstd[r]! * (dy[i]! * gamma[d]! - a / cols - (xhat * b) / cols);
    }
  }
  return { dx, dgamma, dbeta };
}
