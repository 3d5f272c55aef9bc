import { describe, expect, test } from 'vitest';
import { logSumExp2, logSumExp2Into, softplus, type LogSumExp2 } from '../src/log-sum-exp.js';

describe('logSumExp2', () => {
  test('equals ln(eᵃ + eᵇ) and its weights equal the softmax of (a, b) where the naive form is exact enough', () => {
    const out: LogSumExp2 = { value: 0, weightA: 0, weightB: 0 };
    for (const [a, b] of [
      [0, 0],
      [1.5, -2],
      [-3, 0.25],
      [10, 9.5],
      [-7, -7.001],
    ] as const) {
      const naive = Math.log(Math.exp(a) + Math.exp(b));
      expect(logSumExp2(a, b)).toBeCloseTo(naive, 12);
      logSumExp2Into(a, b, out);
      expect(out.value).toBe(logSumExp2(a, b));
      expect(out.weightA).toBeCloseTo(Math.exp(a) / (Math.exp(a) + Math.exp(b)), 12);
      expect(out.weightA + out.weightB).toBeCloseTo(1, 15);
    }
  });

  test('stays finite and exact where the naive form overflows or loses the smaller term', () => {
    expect(logSumExp2(1000, 999)).toBeCloseTo(1000 + Math.log1p(Math.exp(-1)), 10);
    expect(logSumExp2(-1000, -1000)).toBeCloseTo(-1000 + Math.LN2, 10);
    expect(softplus(800)).toBe(800);
    expect(softplus(-800)).toBe(0);
    expect(softplus(0)).toBe(Math.LN2);
  });
});
