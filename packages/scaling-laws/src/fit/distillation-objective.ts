import type { FitObjective } from './objective.js';
import { huberScale } from './huber.js';
import { logSumExp2Into, type LogSumExp2 } from '../log-sum-exp.js';

/**
 * Internal parameters, in optimiser order. c1 is optimised as log c1 because the published value
 * (522.6) sits orders of magnitude away from the others and the data only pin it down to a scale.
 */
export const DISTILLATION_INTERNAL_NAMES: readonly string[] = ['a', 'b', 'alpha', 'beta', 'gamma', 'c0', 'logC1', 'f1', 'd1'];

export interface DistillationData {
  logStudentParams: Float64Array;
  logStudentTokens: Float64Array;
  logTeacherLoss: Float64Array;
  /** log L~_S: the supervised law's loss for the same student and tokens (stage one). */
  logSupervisedLoss: Float64Array;
  logStudentLoss: Float64Array;
}

/**
 * Sum of Huber losses of log L^_S - log L_S with
 * log L^_S = LSE(l_T, -c0 l_T - c1 f1 softplus((l_T - l~_S - log d1) / f1) + gamma LSE(a - alpha log N_S, b - beta log D_S)).
 * The f1 -> 0 limit of f1 softplus(z / f1) is max(z, 0); it is used below a tiny f1 so the
 * singular start f1 = 0 gives finite values and gradients.
 */
export class DistillationObjective implements FitObjective {
  readonly dimension = DISTILLATION_INTERNAL_NAMES.length;
  readonly weights: Float64Array;
  private readonly scale: number;

  constructor(
    private readonly data: DistillationData,
    private readonly delta: number,
  ) {
    this.weights = new Float64Array(data.logStudentLoss.length).fill(1);
    this.scale = huberScale(delta);
  }

  evaluate(theta: Float64Array, gradient: Float64Array): number {
    return this.run(theta, gradient, null);
  }

  logResiduals(theta: Float64Array): Float64Array {
    const out = new Float64Array(this.data.logStudentLoss.length);
    this.run(theta, null, out);
    return out;
  }

  private run(theta: Float64Array, gradient: Float64Array | null, residuals: Float64Array | null): number {
    const a = theta[0]!;
    const b = theta[1]!;
    const alpha = theta[2]!;
    const beta = theta[3]!;
    const gamma = theta[4]!;
    const c0 = theta[5]!;
    const c1 = Math.exp(theta[6]!);
    const f1 = theta[7]!;
    const d1 = theta[8]!;
    const logD1 = Math.log(d1);
    const singular = f1 < 1e-12;
    const { logStudentParams, logStudentTokens, logTeacherLoss, logSupervisedLoss, logStudentLoss } = this.data;
    const { weights, delta } = this;
    let total = 0;
    let gA = 0;
    let gB = 0;
    let gAlpha = 0;
    let gBeta = 0;
    let gGamma = 0;
    let gC0 = 0;
    let gLogC1 = 0;
    let gF1 = 0;
    let gD1 = 0;
    const count = logStudentLoss.length;
    const lse: LogSumExp2 = { value: 0, weightA: 0, weightB: 0 };
    for (let i = 0; i < count; i++) {
      const weight = residuals ? 1 : weights[i]!;
      if (weight === 0) continue;
      const lN = logStudentParams[i]!;
      const lD = logStudentTokens[i]!;
      const lT = logTeacherLoss[i]!;
      const t1 = a - alpha * lN;
      const t2 = b - beta * lD;
      const { value: power, weightA: w1 } = logSumExp2Into(t1, t2, lse);
      const z = lT - logSupervisedLoss[i]! - logD1;
      // s = f1 softplus(z / f1); sigma = d s / d z; dsdf = d s / d f1.
      let s: number;
      let sigma: number;
      let dsdf: number;
      if (singular) {
        s = z > 0 ? z : 0;
        sigma = z > 0 ? 1 : z < 0 ? 0 : 0.5;
        dsdf = z === 0 ? Math.LN2 : 0;
      } else {
        const u = z / f1;
        // softplus(u) = LSE(0, u); its derivative σ(u) is u's weight.
        const { value: softplus, weightB } = logSumExp2Into(0, u, lse);
        sigma = weightB;
        s = f1 * softplus;
        dsdf = softplus - u * sigma;
      }
      const gapLog = -c0 * lT - c1 * s + gamma * power;
      const { value: predicted, weightB: v } = logSumExp2Into(lT, gapLog, lse);
      const r = predicted - logStudentLoss[i]!;
      if (residuals) {
        residuals[i] = r;
        continue;
      }
      let psi: number;
      if (r > delta) {
        total += weight * (r - 0.5 * delta) * delta;
        psi = delta;
      } else if (r < -delta) {
        total += weight * (-r - 0.5 * delta) * delta;
        psi = -delta;
      } else {
        total += weight * 0.5 * r * r;
        psi = r;
      }
      const k = weight * psi * v;
      const kPower = k * gamma;
      const k1 = kPower * w1;
      const k2 = kPower - k1;
      gA += k1;
      gAlpha -= k1 * lN;
      gB += k2;
      gBeta -= k2 * lD;
      gGamma += k * power;
      gC0 -= k * lT;
      gLogC1 -= k * c1 * s;
      gF1 -= k * c1 * dsdf;
      gD1 += (k * c1 * sigma) / d1;
    }
    if (gradient) {
      const inverseScale = 1 / this.scale;
      gradient[0] = gA * inverseScale;
      gradient[1] = gB * inverseScale;
      gradient[2] = gAlpha * inverseScale;
      gradient[3] = gBeta * inverseScale;
      gradient[4] = gGamma * inverseScale;
      gradient[5] = gC0 * inverseScale;
      gradient[6] = gLogC1 * inverseScale;
      gradient[7] = gF1 * inverseScale;
      gradient[8] = gD1 * inverseScale;
    }
    return total / this.scale;
  }
}
