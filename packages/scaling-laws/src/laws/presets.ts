import type { DistillationLaw, SupervisedLaw } from './types.js';

/** Busbridge et al. 2025, supervised law fitted on their runs (gamma free). */
export const BUSBRIDGE_SUPERVISED: Readonly<SupervisedLaw> = Object.freeze({
  E: 1.22,
  A: 3355,
  B: 18186,
  alpha: 0.408,
  beta: 0.431,
  gamma: 0.452,
});

/** Busbridge et al. 2025, distillation law (eq. 8) fitted on their distillation runs. */
export const BUSBRIDGE_DISTILLATION: Readonly<DistillationLaw> = Object.freeze({
  A: 2243,
  B: 24181,
  alpha: 0.321,
  beta: 0.637,
  gamma: 0.764,
  c0: 2.549,
  c1: 522.6,
  f1: 0.09,
  d1: 1.315,
});

/** Hoffmann et al. 2022 (Chinchilla), approach 3: L = E + A / N^alpha + B / D^beta. */
export const CHINCHILLA_APPROACH3: Readonly<SupervisedLaw> = Object.freeze({
  E: 1.69,
  A: 406.4,
  B: 410.7,
  alpha: 0.34,
  beta: 0.28,
  gamma: 1,
});
