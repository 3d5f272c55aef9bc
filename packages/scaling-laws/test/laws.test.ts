import { describe, expect, it } from 'vitest';
import {
  aspectRatioCoefficients,
  BUSBRIDGE_DISTILLATION,
  BUSBRIDGE_SUPERVISED,
  CHINCHILLA_APPROACH3,
  distillationFlops,
  forwardFlopsPerToken,
  optimalTeacherLoss,
  predictDistilledLoss,
  predictSupervisedLoss,
  smoothSwitch,
  supervisedComputeOptimal,
  supervisedFlops,
  tokensForSupervisedLoss,
} from '../src/index.js';

const laws = { supervised: BUSBRIDGE_SUPERVISED, distillation: BUSBRIDGE_DISTILLATION };

// The test vectors: N_S, D_S, L_T, L~_S, L_S.
const VECTORS: [number, number, number, number, number][] = [
  [1.43e8, 2.86e9, 2.5, 2.889188, 2.725269],
  [5.46e8, 1.092e10, 2.3, 2.514941, 2.437458],
  [5.46e8, 1.092e10, 2.0036, 2.514941, 2.376049],
  [1e9, 2e10, 2.3, 2.374692, 2.357475],
  [1.82e9, 3.64e10, 2.1754, 2.250885, 2.234672],
  [7.75e9, 1.55e11, 2.0, 2.003566, 2.027167],
  [3e9, 1e12, 1.9, 2.00081, 1.996365],
  [1e10, 1e11, 3.0, 2.019319, 3.0],
];

describe('published laws', () => {
  it.each(VECTORS)('reproduces N_S=%d D_S=%d L_T=%d to 1e-5', (studentParams, studentTokens, teacherLoss, supervised, distilled) => {
    expect(Math.abs(predictSupervisedLoss(BUSBRIDGE_SUPERVISED, studentParams, studentTokens) - supervised)).toBeLessThan(1e-5);
    expect(Math.abs(predictDistilledLoss(laws, { studentParams, studentTokens, teacherLoss }) - distilled)).toBeLessThan(1e-5);
  });

  it('gamma = 1 is the Chinchilla form E + A/N^alpha + B/D^beta', () => {
    const { E, A, B, alpha, beta } = CHINCHILLA_APPROACH3;
    const n = 7e9;
    const d = 1.4e11;
    expect(predictSupervisedLoss(CHINCHILLA_APPROACH3, n, d)).toBeCloseTo(E + A / n ** alpha + B / d ** beta, 12);
  });

  it('the best teacher at infinite data lands within 1 % of L(N_S, infinity)', () => {
    // The issue quotes ~0.5 %; with these coefficients the gaps are 0.49, 0.44, 0.33 and 0.77 %.
    for (const studentParams of [1e8, 1e9, 1e10, 1e11]) {
      const limit =
        BUSBRIDGE_SUPERVISED.E + (BUSBRIDGE_SUPERVISED.A * studentParams ** -BUSBRIDGE_SUPERVISED.alpha) ** BUSBRIDGE_SUPERVISED.gamma;
      expect(predictSupervisedLoss(BUSBRIDGE_SUPERVISED, studentParams, Infinity)).toBeCloseTo(limit, 12);
      const best = optimalTeacherLoss({ studentParams, studentTokens: Infinity });
      expect(Math.abs(best.studentLoss / limit - 1)).toBeLessThan(0.01);
      if (studentParams === 1e8) {
        expect(best.studentLoss).toBeCloseTo(2.5206, 4);
        expect(limit).toBeCloseTo(2.5331, 4);
      }
    }
  });

  it('inverts the supervised law for tokens', () => {
    const tokens = tokensForSupervisedLoss(BUSBRIDGE_SUPERVISED, 1e9, predictSupervisedLoss(BUSBRIDGE_SUPERVISED, 1e9, 3e10));
    expect(tokens! / 3e10).toBeCloseTo(1, 9);
    expect(
      tokensForSupervisedLoss(BUSBRIDGE_SUPERVISED, 1e9, predictSupervisedLoss(BUSBRIDGE_SUPERVISED, 1e9, Infinity) - 1e-3),
    ).toBeNull();
  });

  it('guards the singular switch f1 = 0 with its limit max(z, 0)', () => {
    expect(smoothSwitch(0.3, 0)).toBe(0.3);
    expect(smoothSwitch(-0.3, 0)).toBe(0);
    expect(smoothSwitch(0.3, 1e-9)).toBeCloseTo(0.3, 12);
    expect(smoothSwitch(-0.3, 0.09)).toBeCloseTo(0.09 * Math.log1p(Math.exp(-0.3 / 0.09)), 14);
    const singular = predictDistilledLoss(
      { supervised: BUSBRIDGE_SUPERVISED, distillation: { ...BUSBRIDGE_DISTILLATION, f1: 0 } },
      { studentParams: 1e9, studentTokens: 2e10, teacherLoss: 2.3 },
    );
    expect(Number.isFinite(singular)).toBe(true);
  });

  it('rejects non-positive inputs with E_BAD_VALUE naming the field', () => {
    expect(() => predictSupervisedLoss(BUSBRIDGE_SUPERVISED, -1, 1e9)).toThrow(/params/);
    expect(() => predictDistilledLoss(laws, { studentParams: 1e9, studentTokens: 1e10, teacherLoss: 0 })).toThrow(/teacherLoss/);
  });
});

describe('compute accounting', () => {
  it('has the paper aspect-ratio coefficients', () => {
    const { sigma1, sigma2, omega } = aspectRatioCoefficients();
    expect(omega).toBeCloseTo(12, 12);
    expect(sigma1).toBeCloseTo(0.037857, 6);
    expect(sigma2).toBeCloseTo(2.201285, 6);
  });

  it('counts F(N) = 2N by default and adds attention and vocabulary terms on request', () => {
    expect(forwardFlopsPerToken(1e9)).toBe(2e9);
    const corrected = forwardFlopsPerToken(1e9, { kind: 'aspect-ratio' });
    const { sigma1, sigma2 } = aspectRatioCoefficients();
    expect(corrected).toBeCloseTo(2e9 * (1 + (sigma1 * 4096) / 1e3 + (sigma2 * 32000) / 1e6), 0);
    expect(supervisedFlops(1e9, 2e10)).toBe(6 * 1e9 * 2e10);
  });

  it('splits distillation FLOPs into student, teacher inference and teacher pretraining', () => {
    const split = distillationFlops({
      studentParams: 1e9,
      studentTokens: 1e11,
      teacherParams: 7e9,
      teacherTokens: 1e12,
      deltaLogits: 1,
      deltaPretrain: 1,
    });
    expect(split.student).toBe(3 * 2e9 * 1e11);
    expect(split.teacherInference).toBe(2 * 7e9 * 1e11);
    expect(split.teacherPretraining).toBe(3 * 2 * 7e9 * 1e12);
    expect(split.total).toBe(split.student + split.teacherInference + split.teacherPretraining);
    const free = distillationFlops({
      studentParams: 1e9,
      studentTokens: 1e11,
      teacherParams: 7e9,
      teacherTokens: 1e12,
      deltaLogits: 0,
      deltaPretrain: 0,
    });
    expect(free.total).toBe(free.student);
  });

  it('finds the supervised compute-optimal model at C = 1e21', () => {
    const best = supervisedComputeOptimal({ budget: 1e21 });
    expect(best.params / 3.054e9).toBeCloseTo(1, 3);
    expect(best.tokens / 5.458e10).toBeCloseTo(1, 3);
    expect((6 * best.params * best.tokens) / 1e21).toBeCloseTo(1, 12);
  });
});
