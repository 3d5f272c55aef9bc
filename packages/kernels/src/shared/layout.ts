/**
 * Memory layouts shared by the host code and the WGSL of the row kernels (softmax, KD loss,
 * cross-entropy). Changing a number here changes every template that interpolates it.
 */

/** f32 words per (row, chunk) partial written by `row-stats`. */
export const PARTIAL_WORDS = 8;
export const PARTIAL = {
  /** Running max of the raw student logits z. */
  zMax: 0,
  /** Σ exp((z − zMax) / T). */
  zSum: 1,
  /** Σ exp(z − zMax) (T = 1, for the hard-label term). */
  zSum1: 2,
  /** Running max of the raw teacher logits t. */
  tMax: 3,
  /** Σ exp((t − tMax) / T). */
  tSum: 4,
  /**
   * Dense reverse KL: Σ e · ((z − zMax) − (t − tMax)) over the tokens the teacher keeps, e =
   * exp((z − zMax) / T): Σ q (z − t) as an online sum, centred on the running maxima (`RKL_WGSL`).
   */
  rklSum: 5,
  /** Dense reverse KL: Σ e over the tokens the teacher keeps (re-centres rklSum when a max grows). */
  rklKept: 6,
  /** Dense reverse KL: max z over the tokens whose teacher logit is −inf (their q > 0 makes D = +inf). */
  rklMaskedMax: 7,
} as const;

/** f32 words per row of the row-stats buffer written by `row-merge` (and the divergence merge). */
export const ROW_WORDS = 16;
export const ROW = {
  /** max_j z_j (raw, not tempered); the sentinel when the row is all −inf. */
  zMax: 0,
  /** log Σ exp((z − zMax) / T). */
  zLogZ: 1,
  /** log Σ exp(z − zMax). */
  zLogZ1: 2,
  /** max_j t_j (dense teacher). */
  tMax: 3,
  /** Teacher log-normaliser: dense: log Σ exp((t − tMax) / T); top-k: log Σ_atoms exp(ℓ/T) over support and tail. */
  tLogZ: 4,
  /** 1 when the row counts (no labels, or label ≠ ignoreIndex). */
  active: 5,
  /** −log softmax(z)_y at T = 1 (0 when inactive or the student row is empty). */
  hard: 6,
  /** Divergence D of the row (top-k, reverse KL, JSD; forward KL with a dense teacher sums its partials instead). */
  div: 7,
  /** JSD: K_S = Σ q log(q/m); reverse KL: D. */
  k: 8,
  /** Top-k: gradient coefficient c of the tokens outside the support (∂D/∂b_j = q_j · c). */
  cOff: 9,
  /** 1 when the soft term is defined (student and teacher rows not empty). */
  softOk: 10,
  /** 1 when the soft gradient is defined (softOk and D finite, or forward KL). */
  softGradOk: 11,
  /** 1 when the student row has at least one finite logit. */
  zOk: 12,
} as const;

/** u32 words of the summary buffer: flags, counts and the reduced totals, read back in one copy. */
export const SUMMARY_WORDS = 16;
export const SUMMARY = {
  /** OR of the FLAG bits raised anywhere. */
  flags: 0,
  /** Number of active rows (labels ≠ ignoreIndex). */
  count: 1,
  /** First row (global index) that raised FLAG bit b is at firstRow + b. */
  firstRow: 2,
  /** f32 bits: total, soft, hard, normaliser used. */
  total: 10,
  soft: 11,
  hard: 12,
  normalizer: 13,
} as const;

export const FLAG = {
  /** NaN or +Inf in the student logits (−Inf is a mask and is allowed). */
  studentNonFinite: 1 << 0,
  /** NaN or +Inf in the dense teacher logits or the top-k log-probabilities. */
  teacherNonFinite: 1 << 1,
  /** A label outside [0, vocab) that is not ignoreIndex. */
  labelRange: 1 << 2,
  /** A top-k index outside [0, vocab) (with vocabMismatch 'error'), or negative. */
  indexRange: 1 << 3,
  /** A top-k log-probability above 0, or Σ exp(logprobs) above 1 (+1e-3). */
  logprobRange: 1 << 4,
  /** tailMass NaN or outside [0, 1]. */
  tailRange: 1 << 5,
  /** A row weight that is negative, NaN or infinite, on a row that counts. */
  rowWeightRange: 1 << 6,
} as const;

export const FLAG_COUNT = 7;
/** Running-max start value: finite, so −inf inputs never produce (−inf) − (−inf). */
export const SENTINEL = -3.0e38;
