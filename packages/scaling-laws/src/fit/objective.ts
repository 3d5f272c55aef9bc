/** A data-fitting objective the multistart optimiser can drive. */
export interface FitObjective {
  readonly dimension: number;
  /** Scaled objective (sum of Huber losses / huberScale(delta)); writes the gradient. */
  evaluate(theta: Float64Array, gradient: Float64Array): number;
  /** Per-point multiplicity: 1 for a plain fit, bootstrap counts for a resample. */
  readonly weights: Float64Array;
  /** log(predicted) - log(observed) for every point, at theta. */
  logResiduals(theta: Float64Array): Float64Array;
}
