/** Linear-interpolation quantile (type 7, numpy's default) of already sorted values. */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const weight = position - below;
  return sorted[below]! * (1 - weight) + sorted[above]! * weight;
}

/** Percentile interval and median of `values` at central coverage `level`. */
export function percentileInterval(values: readonly number[], level: number): { lower: number; median: number; upper: number } {
  const sorted = [...values].sort((p, q) => p - q);
  const tail = (1 - level) / 2;
  return { lower: sortedQuantile(sorted, tail), median: sortedQuantile(sorted, 0.5), upper: sortedQuantile(sorted, 1 - tail) };
}
