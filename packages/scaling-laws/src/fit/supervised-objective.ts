import type { FitObjective } from './objective.js';
import { huberScale } from './huber.js';
import { logSumExp2, logSumExp2Into, type LogSumExp2 } from '../log-sum-exp.js';

export type SupervisedForm = 'chinchilla' | 'busbridge';

/**
 * Internal parameters, in optimiser order: a = log A, b = log B, e = log E, alpha, beta and (busbridge
 * form) gamma. The log coefficients make the fit a log-sum-exp, as in both papers.
 */
export const SUPERVISED_INTERNAL_NAMES: Readonly<Record<SupervisedForm, readonly string[]>> = {
  chinchilla: ['a', 'b', 'e', 'alpha', 'beta'],
  busbridge: ['a', 'b', 'e', 'alpha', 'beta', 'gamma'],
};

/**
 * Sum of Huber losses of log L^ - log L with
 * log L^ = LSE(e, gamma * LSE(a - alpha log N, b - beta log D)),
 * which for gamma = 1 is Chinchilla's LSE(a - alpha log N, b - beta log D, e).
 * The fitter passes log N and log D centred on their means, so a and b here are the centred
 * coefficients (a - alpha * mean log N); the objective itself does not care.
 */
export class SupervisedObjective implements FitObjective {
  readonly dimension: number;
  readonly weights: Float64Array;
  private readonly logParams: Float64Array;
  private readonly logTokens: Float64Array;
  private readonly logLoss: Float64Array;
  private readonly delta: number;
  private readonly scale: number;

  constructor(
    readonly form: SupervisedForm,
    data: { logParams: Float64Array; logTokens: Float64Array; logLoss: Float64Array },
    delta: number,
  ) {
    this.dimension = SUPERVISED_INTERNAL_NAMES[form].length;
    this.logParams = data.logParams;
    this.logTokens = data.logTokens;
    this.logLoss = data.logLoss;
    this.weights = new Float64Array(data.logLoss.length).fill(1);
    this.delta = delta;
    this.scale = huberScale(delta);
  }

  evaluate(theta: Float64Array, gradient: Float64Array): number {
    return this.form === 'chinchilla' ? this.evaluateChinchilla(theta, gradient) : this.evaluateBusbridge(theta, gradient);
  }

  logPredictions(theta: Float64Array): Float64Array {
    const out = new Float64Array(this.logLoss.length);
    const gamma = this.form === 'chinchilla' ? 1 : theta[5]!;
    const [a, b, e, alpha, beta] = theta as unknown as [number, number, number, number, number];
    for (let i = 0; i < out.length; i++) {
      const t1 = a - alpha * this.logParams[i]!;
      const t2 = b - beta * this.logTokens[i]!;
      const inner = logSumExp2(t1, t2);
      const q = gamma * inner;
      out[i] = logSumExp2(e, q);
    }
    return out;
  }

  logResiduals(theta: Float64Array): Float64Array {
    const out = this.logPredictions(theta);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! - this.logLoss[i]!;
    return out;
  }

  private evaluateChinchilla(theta: Float64Array, gradient: Float64Array): number {
    const a = theta[0]!;
    const b = theta[1]!;
    const e = theta[2]!;
    const alpha = theta[3]!;
    const beta = theta[4]!;
    const { logParams, logTokens, logLoss, weights, delta } = this;
    const inverseScale = 1 / this.scale;
    let total = 0;
    let gA = 0;
    let gB = 0;
    let gE = 0;
    let gAlpha = 0;
    let gBeta = 0;
    const count = logLoss.length;
    for (let i = 0; i < count; i++) {
      const weight = weights[i]!;
      if (weight === 0) continue;
      const lN = logParams[i]!;
      const lD = logTokens[i]!;
      const t1 = a - alpha * lN;
      const t2 = b - beta * lD;
      // Three-term log-sum-exp; the largest term is exactly 1 after shifting, so two exps suffice.
      let top: number;
      let x1: number;
      let x2: number;
      let x3: number;
      if (t1 >= t2 && t1 >= e) {
        top = t1;
        x1 = 1;
        x2 = Math.exp(t2 - t1);
        x3 = Math.exp(e - t1);
      } else if (t2 >= e) {
        top = t2;
        x1 = Math.exp(t1 - t2);
        x2 = 1;
        x3 = Math.exp(e - t2);
      } else {
        top = e;
        x1 = Math.exp(t1 - e);
        x2 = Math.exp(t2 - e);
        x3 = 1;
      }
      const sum = x1 + x2 + x3;
      const r = top + Math.log(sum) - logLoss[i]!;
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
      const k = (weight * psi) / sum;
      const k1 = k * x1;
      const k2 = k * x2;
      gA += k1;
      gAlpha -= k1 * lN;
      gB += k2;
      gBeta -= k2 * lD;
      gE += k * x3;
    }
    gradient[0] = gA * inverseScale;
    gradient[1] = gB * inverseScale;
    gradient[2] = gE * inverseScale;
    gradient[3] = gAlpha * inverseScale;
    gradient[4] = gBeta * inverseScale;
    return total * inverseScale;
  }

  private evaluateBusbridge(theta: Float64Array, gradient: Float64Array): number {
    const a = theta[0]!;
    const b = theta[1]!;
    const e = theta[2]!;
    const alpha = theta[3]!;
    const beta = theta[4]!;
    const gamma = theta[5]!;
    const { logParams, logTokens, logLoss, weights, delta } = this;
    const inverseScale = 1 / this.scale;
    let total = 0;
    let gA = 0;
    let gB = 0;
    let gE = 0;
    let gAlpha = 0;
    let gBeta = 0;
    let gGamma = 0;
    const count = logLoss.length;
    const lse: LogSumExp2 = { value: 0, weightA: 0, weightB: 0 };
    for (let i = 0; i < count; i++) {
      const weight = weights[i]!;
      if (weight === 0) continue;
      const lN = logParams[i]!;
      const lD = logTokens[i]!;
      const t1 = a - alpha * lN;
      const t2 = b - beta * lD;
      // Inner LSE(t1, t2) with softmax weights w1, w2.
      const { value: inner, weightA: w1 } = logSumExp2Into(t1, t2, lse);
      const q = gamma * inner;
      // Outer LSE(e, q) with weight v on the q term.
      const { value: predicted, weightB: v } = logSumExp2Into(e, q, lse);
      const r = predicted - logLoss[i]!;
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
      const k = weight * psi;
      const kq = k * v;
      gE += k - kq;
      gGamma += kq * inner;
      const kInner = kq * gamma;
      const k1 = kInner * w1;
      const k2 = kInner - k1;
      gA += k1;
      gAlpha -= k1 * lN;
      gB += k2;
      gBeta -= k2 * lD;
    }
    gradient[0] = gA * inverseScale;
    gradient[1] = gB * inverseScale;
    gradient[2] = gE * inverseScale;
    gradient[3] = gAlpha * inverseScale;
    gradient[4] = gBeta * inverseScale;
    gradient[5] = gGamma * inverseScale;
    return total * inverseScale;
  }
}
