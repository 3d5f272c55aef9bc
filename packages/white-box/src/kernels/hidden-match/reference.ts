import type { HiddenMatchLoss } from './hidden-match.wgsl.js';

const EPS = 1e-8;

/**
 * Float64 reference of the hidden-match kernel: per-row loss ℓ_r (unweighted) and
 * `scale · ∂ℓ_r/∂predicted` for `[rows, width]` row-major inputs.
 */
export function hiddenMatchReference(
  predicted: ArrayLike<number>,
  target: ArrayLike<number>,
  rows: number,
  width: number,
  loss: HiddenMatchLoss,
  scale: number,
): { perRow: Float64Array; grad: Float64Array } {
  const perRow = new Float64Array(rows);
  const grad = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    if (loss === 'mse') {
      let s = 0;
      for (let j = 0; j < width; j++) s += (predicted[o + j]! - target[o + j]!) ** 2;
      perRow[r] = s / width;
      for (let j = 0; j < width; j++) grad[o + j] = (2 * scale * (predicted[o + j]! - target[o + j]!)) / width;
      continue;
    }
    let dot = 0;
    let yy = 0;
    let tt = 0;
    for (let j = 0; j < width; j++) {
      dot += predicted[o + j]! * target[o + j]!;
      yy += predicted[o + j]! ** 2;
      tt += target[o + j]! ** 2;
    }
    const ny = Math.sqrt(yy);
    const nyc = Math.max(ny, EPS);
    const ntc = Math.max(Math.sqrt(tt), EPS);
    const cosine = dot / (nyc * ntc);
    perRow[r] = 1 - cosine;
    for (let j = 0; j < width; j++) {
      const onY = ny > EPS ? (cosine * predicted[o + j]!) / (nyc * nyc) : 0;
      grad[o + j] = scale * (onY - target[o + j]! / (nyc * ntc));
    }
  }
  return { perRow, grad };
}

export interface HiddenStateMatchReferenceInputs {
  /** `[rows, studentWidth]` student hidden state. */
  student: ArrayLike<number>;
  /** `[rows, teacherWidth]` teacher hidden state. */
  teacher: ArrayLike<number>;
  rows: number;
  studentWidth: number;
  teacherWidth: number;
  loss: HiddenMatchLoss;
  weight: number;
  /** `[teacherWidth, studentWidth]` weight and `[teacherWidth]` bias of the projection; absent: identity. */
  projection?: { weight: ArrayLike<number>; bias: ArrayLike<number> };
}

/**
 * Float64 reference of one weighted hidden-state term: value = weight · mean_r ℓ_r(P h_s, h_t) and
 * its gradients w.r.t. the student state and the projection.
 */
export function hiddenStateMatchReference(inputs: HiddenStateMatchReferenceInputs): {
  value: number;
  gradStudent: Float64Array;
  gradWeight?: Float64Array;
  gradBias?: Float64Array;
} {
  const { student, teacher, rows, studentWidth: ds, teacherWidth: dt, loss, weight, projection } = inputs;
  let predicted: ArrayLike<number> = student;
  if (projection) {
    const y = new Float64Array(rows * dt);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < dt; o++) {
        let s = projection.bias[o]!;
        for (let i = 0; i < ds; i++) s += projection.weight[o * ds + i]! * student[r * ds + i]!;
        y[r * dt + o] = s;
      }
    }
    predicted = y;
  }
  const { perRow, grad } = hiddenMatchReference(predicted, teacher, rows, dt, loss, weight / rows);
  const value = (weight * perRow.reduce((a, b) => a + b, 0)) / rows;
  if (!projection) return { value, gradStudent: grad };
  const gradStudent = new Float64Array(rows * ds);
  const gradWeight = new Float64Array(dt * ds);
  const gradBias = new Float64Array(dt);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < dt; o++) {
      const g = grad[r * dt + o]!;
      gradBias[o]! += g;
      for (let i = 0; i < ds; i++) {
        gradWeight[o * ds + i]! += g * student[r * ds + i]!;
        gradStudent[r * ds + i]! += g * projection.weight[o * ds + i]!;
      }
    }
  }
  return { value, gradStudent, gradWeight, gradBias };
}
