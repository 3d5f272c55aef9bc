import type { FitObjective } from './objective.js';

/** Eigen-decomposition of a small symmetric matrix (row-major, n x n) by cyclic Jacobi rotations. */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = matrix.slice();
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : 0.5 * (sorted[mid - 1]! + sorted[mid]!);
}

/**
 * Linearised (Gauss-Newton) standard errors of each optimiser coordinate: sigma^2 (J^T J)^-1 with J the
 * Jacobian of the log predictions and sigma a robust residual scale (1.4826 * MAD). A direction the
 * runs cannot see (near-zero eigenvalue of J^T J) gives Infinity for every coordinate that moves along
 * it. This catches ridges (e.g. c1 against d1) that a warm-started bootstrap can miss. Coordinates on a
 * bound get NaN: the linearisation does not hold there.
 */
export function linearizedStandardErrors(
  objective: FitObjective,
  theta: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
): Float64Array {
  const p = theta.length;
  const base = objective.logResiduals(theta);
  const n = base.length;
  const jacobian = new Float64Array(n * p);
  const probe = theta.slice();
  const errors = new Float64Array(p);
  const active: number[] = [];
  for (let j = 0; j < p; j++) {
    const span = upper[j]! - lower[j]!;
    if (theta[j]! <= lower[j]! + 1e-6 * span || theta[j]! >= upper[j]! - 1e-6 * span) {
      errors[j] = NaN;
      continue;
    }
    const h = 1e-6 * Math.max(1, Math.abs(theta[j]!));
    const up = Math.min(upper[j]!, theta[j]! + h);
    const down = Math.max(lower[j]!, theta[j]! - h);
    probe[j] = up;
    const plus = objective.logResiduals(probe);
    probe[j] = down;
    const minus = objective.logResiduals(probe);
    probe[j] = theta[j]!;
    for (let i = 0; i < n; i++) jacobian[i * p + j] = (plus[i]! - minus[i]!) / (up - down);
    active.push(j);
  }
  const m = active.length;
  if (m === 0) return errors;
  const degreesOfFreedom = Math.max(1, n - m);
  const absolute = base.map(Math.abs);
  const sigma = 1.4826 * median(absolute) * Math.sqrt(n / degreesOfFreedom);

  // Scale J^T J to unit diagonal so the eigenvalue cut-off is about directions, not units.
  const normal = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a; b < m; b++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += jacobian[i * p + active[a]!]! * jacobian[i * p + active[b]!]!;
      normal[a * m + b] = sum;
      normal[b * m + a] = sum;
    }
  }
  const scale = new Float64Array(m);
  for (let a = 0; a < m; a++) scale[a] = normal[a * m + a]! > 0 ? 1 / Math.sqrt(normal[a * m + a]!) : 0;
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) normal[a * m + b] = normal[a * m + b]! * scale[a]! * scale[b]!;
  const { values, vectors } = symmetricEigen(normal, m);
  const largest = Math.max(...values);
  for (let a = 0; a < m; a++) {
    if (scale[a] === 0) {
      errors[active[a]!] = Infinity;
      continue;
    }
    let variance = 0;
    for (let k = 0; k < m; k++) {
      const weight = vectors[a * m + k]! * vectors[a * m + k]!;
      if (values[k]! <= 1e-12 * largest) {
        if (weight > 1e-8) variance = Infinity;
      } else {
        variance += weight / values[k]!;
      }
    }
    errors[active[a]!] = variance === Infinity ? Infinity : sigma * scale[a]! * Math.sqrt(variance);
  }
  return errors;
}
