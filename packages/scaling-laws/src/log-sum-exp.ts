/**
 * The stable two-term log-sum-exp the laws and their fitting objectives are written in: the larger
 * term is factored out, so ln(eᵃ + eᵇ) neither overflows nor loses the smaller term.
 */

/** ln(eᵃ + eᵇ) and the softmax weights of a and b (its partial derivatives), from one exp. */
export interface LogSumExp2 {
  value: number;
  weightA: number;
  weightB: number;
}

/** ln(eᵃ + eᵇ), written into `out` with its weights (an object the caller reuses: the objectives call this per point per step). */
export function logSumExp2Into(a: number, b: number, out: LogSumExp2): LogSumExp2 {
  if (a >= b) {
    const x = Math.exp(b - a);
    out.value = a + Math.log1p(x);
    out.weightA = 1 / (1 + x);
    out.weightB = x / (1 + x);
  } else {
    const x = Math.exp(a - b);
    out.value = b + Math.log1p(x);
    out.weightA = x / (1 + x);
    out.weightB = 1 / (1 + x);
  }
  return out;
}

/** ln(eᵃ + eᵇ). */
export function logSumExp2(a: number, b: number): number {
  return a >= b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** softplus(u) = ln(1 + eᵘ) = logSumExp2(0, u). */
export function softplus(u: number): number {
  return logSumExp2(0, u);
}
