/**
 * The Huber loss that both papers minimise, rho(r) = r^2 / 2 for |r| <= delta, delta (|r| - delta / 2)
 * beyond. Objectives work with rho / scale so that values stay near the number of points whatever
 * delta is (better conditioned stopping tests); `huberScale` gives that divisor. delta = Infinity is
 * plain least squares.
 */
export function huberScale(delta: number): number {
  return Number.isFinite(delta) ? delta : 1e-3;
}

/** Huber loss of one residual, unscaled. */
export function huberLoss(residual: number, delta: number): number {
  const size = Math.abs(residual);
  return size <= delta ? 0.5 * residual * residual : delta * (size - 0.5 * delta);
}
