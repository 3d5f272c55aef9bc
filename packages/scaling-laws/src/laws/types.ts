/**
 * Supervised law L(N, D) = E + (A / N^alpha + B / D^beta)^gamma.
 * N counts non-embedding parameters, D training tokens; gamma = 1 is Chinchilla's form.
 */
export interface SupervisedLaw {
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
  gamma: number;
}

/**
 * Distillation law (Busbridge et al. 2025, eq. 8):
 * L_S = L_T + L_T^-c0 * (1 + (L_T / (L~_S * d1))^(1/f1))^(-c1*f1) * (A / N_S^alpha + B / D_S^beta)^gamma,
 * where L~_S = L(N_S, D_S) comes from a supervised law.
 */
export interface DistillationLaw {
  A: number;
  B: number;
  alpha: number;
  beta: number;
  gamma: number;
  c0: number;
  c1: number;
  f1: number;
  d1: number;
}

/** The two laws a distillation prediction needs: the student's supervised baseline and the distillation law. */
export interface LawPair {
  supervised: SupervisedLaw;
  distillation: DistillationLaw;
}
