import { badValue, DistilleryError, requireInteger, requireNonNegative, requirePositive, shapeMismatch } from '@distillery/core';
import { logSoftmaxRow } from '../softmax/softmax.reference.js';

export type ReferenceDivergence = 'forward-kl' | 'reverse-kl' | 'jsd';

export type ReferenceTeacher =
  | { kind: 'dense'; logits: ArrayLike<number>; /** Teacher vocabulary (row stride); default the student's. */ vocab?: number }
  | { kind: 'topk'; k: number; indices: ArrayLike<number>; logprobs: ArrayLike<number>; tailMass?: ArrayLike<number> };

/** Inputs of `kdLossReference`: the options of `kdLoss` with host arrays (row-major) instead of GPU tensors. */
export interface KdLossReferenceInputs {
  rows: number;
  vocab: number;
  studentLogits: ArrayLike<number>;
  teacher?: ReferenceTeacher;
  labels?: ArrayLike<number>;
  divergence?: ReferenceDivergence;
  beta?: number;
  jsdNormalized?: boolean;
  temperature?: number;
  softWeight: number;
  hardWeight: number;
  scaleByTemperatureSquared?: boolean;
  ignoreIndex?: number;
  normalizer?: number;
  /** `[rows]` weights ≥ 0: each row's terms and gradient are multiplied by its weight; N is unchanged. */
  rowWeights?: ArrayLike<number>;
  tail?: 'ignore' | 'bucket';
  vocabMismatch?: 'error' | 'truncate' | 'mask';
}

export interface KdLossReferenceOutput {
  /** Σ_rows (soft + hard) ÷ N. */
  total: number;
  soft: number;
  hard: number;
  /** Rows that counted (label ≠ ignoreIndex). */
  rows: number;
  /** N. */
  normalizer: number;
  /** Weighted per-row terms, row weights included (not divided by N). */
  perRow: { soft: Float64Array; hard: Float64Array; total: Float64Array };
  /** Unweighted divergence D of each row (0 where the soft term is undefined). */
  divergence: Float64Array;
  /** Unweighted cross-entropy −ln softmax(z)_y of each row (0 for ignored rows). */
  crossEntropy: Float64Array;
  /** d total / d studentLogits, row-major [rows, vocab]. */
  gradLogits: Float64Array;
}

/** −ln((1 − w) + w·e^d) for 0 < w < 1, stable for w near 0 or 1 and for large |d|. */
export function negLogMix(w: number, d: number): number {
  const logW = Math.log(w);
  if (logW + d > 0) return -(logW + d + Math.log1p(Math.exp(Math.log1p(-w) - logW - d)));
  return -Math.log1p(w * Math.expm1(d));
}

/**
 * One atom of the generalised JSD(β) (GKD): returns [β p ln(p/m) + (1 − β) q ln(q/m), q ln(q/m)]
 * with m = β p + (1 − β) q, from log-probabilities (so p/q ratios keep their precision).
 */
export function jsdAtom(lp: number, lq: number, p: number, q: number, beta: number): [number, number] {
  if (q === 0) return p === 0 ? [0, 0] : [beta * p * -Math.log(beta), 0];
  if (p === 0) {
    const dS = -Math.log1p(-beta);
    return [(1 - beta) * q * dS, q * dS];
  }
  const d = lp - lq;
  const dS = negLogMix(beta, d);
  const dT = negLogMix(1 - beta, -d);
  return [beta * p * dT + (1 - beta) * q * dS, q * dS];
}

/** ln(q/m) of an atom with q > 0. */
function jsdLogQOverM(lp: number, lq: number, p: number, beta: number): number {
  return p === 0 ? -Math.log1p(-beta) : negLogMix(beta, lp - lq);
}

const exp0 = (x: number) => (x === -Infinity ? 0 : Math.exp(x));

/** One divergence atom: log-probabilities of teacher and student. */
interface Atom {
  lp: number;
  lq: number;
}

function atomTerms(atoms: readonly Atom[], divergence: ReferenceDivergence, beta: number): { d: number; k: number } {
  let d = 0;
  let k = 0;
  for (const { lp, lq } of atoms) {
    const p = exp0(lp);
    const q = exp0(lq);
    if (divergence === 'forward-kl') d += p === 0 ? 0 : p * (lp - lq);
    else if (divergence === 'reverse-kl') d += q === 0 ? 0 : q * (lq - lp);
    else {
      const [dd, kk] = jsdAtom(lp, lq, p, q, beta);
      d += dd;
      k += kk;
    }
  }
  return { d, k: divergence === 'reverse-kl' ? d : k };
}

/** ∂D/∂b_j (b = z/T) of a token in a singleton atom, or (q_j scaled) of a token in an aggregated atom. */
function atomCoefficient(atom: Atom, divergence: ReferenceDivergence, beta: number, d: number, k: number): number {
  const p = exp0(atom.lp);
  const q = exp0(atom.lq);
  if (q === 0) return 0;
  if (divergence === 'forward-kl') return 1 - p / q;
  if (divergence === 'reverse-kl') return atom.lq - atom.lp - d;
  return (1 - beta) * (jsdLogQOverM(atom.lp, atom.lq, p, beta) - k);
}

/**
 * Float64 reference of `kdLoss` (and `crossEntropy`): the same definitions and conventions as
 * the kernels, written for clarity. docs/kernels.md states the math.
 */
export function kdLossReference(inputs: KdLossReferenceInputs): KdLossReferenceOutput {
  const { rows, vocab: V, studentLogits: z } = inputs;
  if (z.length !== rows * V) throw shapeMismatch('studentLogits', [z.length], `${rows} × ${V} elements`);
  const T = requirePositive('temperature', inputs.temperature ?? 1);
  const softWeight = requireNonNegative('softWeight', inputs.softWeight);
  const hardWeight = requireNonNegative('hardWeight', inputs.hardWeight);
  const ignoreIndex = requireInteger('ignoreIndex', inputs.ignoreIndex ?? -100);
  const beta = inputs.beta ?? 0.5;
  if (!(beta >= 0 && beta <= 1)) throw badValue('beta', beta, 'a number in [0, 1]');
  const tail = inputs.tail ?? 'ignore';
  const mismatch = inputs.vocabMismatch ?? 'error';
  let divergence = inputs.divergence ?? 'forward-kl';
  let factor = 1;
  let zeroSoft = false;
  if (divergence === 'jsd') {
    if (beta === 0 || beta === 1) {
      if (inputs.jsdNormalized) divergence = beta === 0 ? 'forward-kl' : 'reverse-kl';
      else zeroSoft = true;
    } else if (inputs.jsdNormalized) factor = 1 / (beta * (1 - beta));
  }
  const teacher = inputs.teacher;
  const tau = inputs.scaleByTemperatureSquared === false ? 1 : T * T;
  const softLossScale = zeroSoft || !teacher ? 0 : softWeight * tau * factor;
  const labels = inputs.labels;
  const hardW = labels ? hardWeight : 0;
  const rowWeights = inputs.rowWeights;
  if (rowWeights && rowWeights.length !== rows) throw shapeMismatch('rowWeights', [rowWeights.length], `[${rows}]`);
  if (teacher?.kind === 'topk' && divergence === 'reverse-kl' && tail === 'ignore' && softLossScale > 0) {
    throw new DistilleryError('E_UNSUPPORTED', "reverse KL with a top-k teacher needs tail: 'bucket'", { field: 'tail' });
  }

  const perSoft = new Float64Array(rows);
  const perHard = new Float64Array(rows);
  const divergenceRow = new Float64Array(rows);
  const ce = new Float64Array(rows);
  const coef = new Float64Array(rows * V); // ∂D/∂b
  const lqAll: Array<Float64Array | null> = [];
  const lq1All: Array<Float64Array | null> = [];
  const active: boolean[] = [];
  const softGradOk: boolean[] = [];
  let count = 0;

  for (let r = 0; r < rows; r++) {
    const lq = logSoftmaxRow(z, T, r * V, V);
    const lq1 = logSoftmaxRow(z, 1, r * V, V);
    lqAll.push(lq);
    lq1All.push(lq1);
    let isActive = true;
    if (labels) {
      const y = labels[r]!;
      isActive = y !== ignoreIndex;
      if (isActive && !(Number.isInteger(y) && y >= 0 && y < V))
        throw badValue(`labels[${r}]`, y, `an integer in [0, ${V}) or ignoreIndex (${ignoreIndex})`);
      if (isActive && lq1) ce[r] = -lq1[y]!;
    }
    active.push(isActive);
    if (isActive) count++;
    softGradOk.push(false);
    if (!teacher || !lq) continue;

    // Atoms of this row, and for each student token the atom it belongs to.
    const atoms: Atom[] = [];
    const tokenAtom = new Int32Array(V).fill(-1);
    let aggregated = -1; // the tail atom (its tokens' coefficient is scaled by q_j / q_tail)
    let teacherOk = false;
    if (teacher.kind === 'dense') {
      const tV = teacher.vocab ?? V;
      if (tV !== V && (mismatch === 'error' || (tV < V && mismatch === 'truncate')))
        throw shapeMismatch('teacher.logits', [rows, tV], `[${rows}, ${V}]`);
      const tCols = mismatch === 'truncate' ? Math.min(V, tV) : tV;
      const lp = logSoftmaxRow(teacher.logits, T, r * tV, tCols);
      if (!lp) continue;
      teacherOk = true;
      const cols = Math.max(V, tCols);
      for (let j = 0; j < cols; j++) {
        if (j < V) tokenAtom[j] = atoms.length;
        atoms.push({ lp: j < tCols ? lp[j]! : -Infinity, lq: j < V ? lq[j]! : -Infinity });
      }
    } else {
      const { k, indices, logprobs } = teacher;
      let keptMass = 0;
      let droppedMass = 0;
      const kept: Array<{ idx: number; a: number }> = [];
      for (let i = 0; i < k; i++) {
        const idx = indices[r * k + i]!;
        const l0 = logprobs[r * k + i]!;
        if (!(Number.isInteger(idx) && idx >= 0)) throw badValue(`teacher.indices[${r}][${i}]`, idx, `a token index in [0, ${V})`);
        if (l0 > 1e-3) throw badValue(`teacher.logprobs[${r}][${i}]`, l0, 'a log-probability (≤ 0)');
        const l = Math.min(l0, 0);
        if (idx >= V && mismatch === 'error') throw badValue(`teacher.indices[${r}][${i}]`, idx, `a token index in [0, ${V})`);
        if (idx >= V && mismatch === 'truncate') {
          droppedMass += Math.exp(l);
          continue;
        }
        keptMass += Math.exp(l);
        kept.push({ idx, a: l / T });
      }
      let rho = 0;
      if (tail === 'bucket')
        rho = teacher.tailMass ? Math.min(1, Math.max(0, teacher.tailMass[r]!)) + droppedMass : Math.max(0, 1 - keptMass);
      const aTail = rho > 0 ? Math.log(rho) / T : -Infinity;
      let aMax = aTail;
      for (const { a } of kept) aMax = Math.max(aMax, a);
      let zt = 0;
      if (aMax !== -Infinity) {
        for (const { a } of kept) zt += exp0(a - aMax);
        zt += exp0(aTail - aMax);
      }
      if (zt === 0) continue;
      teacherOk = true;
      const logZT = aMax + Math.log(zt);
      let support = 0;
      for (const { idx, a } of kept) {
        const lqi = idx < V ? lq[idx]! : -Infinity;
        if (idx < V) {
          support += exp0(lqi);
          tokenAtom[idx] = atoms.length;
        }
        atoms.push({ lp: a - logZT, lq: lqi });
      }
      const qTail = Math.max(0, 1 - support);
      if (tail === 'bucket') {
        aggregated = atoms.length;
        atoms.push({ lp: aTail - logZT, lq: Math.log(qTail) });
      } else {
        // Each token outside the support is its own atom with p = 0.
        for (let j = 0; j < V; j++) {
          if (tokenAtom[j] === -1) {
            tokenAtom[j] = atoms.length;
            atoms.push({ lp: -Infinity, lq: lq[j]! });
          }
        }
      }
      if (tail === 'bucket') for (let j = 0; j < V; j++) if (tokenAtom[j] === -1) tokenAtom[j] = aggregated;
    }
    if (!teacherOk) continue;
    const { d, k } = atomTerms(atoms, divergence, beta);
    divergenceRow[r] = d;
    const gradOk = divergence === 'forward-kl' || d < Infinity;
    softGradOk[r] = gradOk;
    if (!gradOk) continue;
    for (let j = 0; j < V; j++) {
      // A masked (−inf) student logit gets no soft gradient.
      if (lq[j] === -Infinity) continue;
      const q = exp0(lq[j]!);
      const a = tokenAtom[j]!;
      const atom = atoms[a]!;
      if (a !== aggregated && divergence === 'forward-kl') coef[r * V + j] = q - exp0(atom.lp);
      else coef[r * V + j] = q === 0 ? 0 : q * atomCoefficient(atom, divergence, beta, d, k);
    }
  }

  const N = inputs.normalizer !== undefined ? requirePositive('normalizer', inputs.normalizer) : count;
  const invN = N > 0 ? 1 / N : 0;
  const grad = new Float64Array(rows * V);
  let softSum = 0;
  let hardSum = 0;
  for (let r = 0; r < rows; r++) {
    if (!active[r]) continue;
    const w = rowWeights ? rowWeights[r]! : 1;
    if (!(Number.isFinite(w) && w >= 0)) throw badValue(`rowWeights[${r}]`, w, 'a finite weight ≥ 0');
    // A weight of 0 removes the row exactly, even where its divergence is +inf.
    if (w === 0) continue;
    const lq = lqAll[r];
    perSoft[r] = softLossScale !== 0 ? w * softLossScale * divergenceRow[r]! : 0;
    perHard[r] = hardW !== 0 ? w * hardW * ce[r]! : 0;
    softSum += perSoft[r]!;
    hardSum += perHard[r]!;
    if (!lq) continue;
    const lq1 = lq1All[r]!;
    const y = labels ? labels[r]! : -1;
    for (let j = 0; j < V; j++) {
      let g = 0;
      if (softLossScale !== 0 && softGradOk[r]) g += (softLossScale / T) * coef[r * V + j]!;
      if (hardW !== 0) g += hardW * (exp0(lq1[j]!) - (j === y ? 1 : 0));
      grad[r * V + j] = w * g * invN;
    }
  }
  const perTotal = perSoft.map((s, r) => s + perHard[r]!);
  return {
    total: (softSum + hardSum) * invN,
    soft: softSum * invN,
    hard: hardSum * invN,
    rows: count,
    normalizer: N,
    perRow: { soft: perSoft, hard: perHard, total: perTotal },
    divergence: divergenceRow,
    crossEntropy: ce,
    gradLogits: grad,
  };
}

/**
 * Central finite differences of a scalar function of a vector, in float64: the oracle for the
 * references' analytic gradients (and for users' own losses).
 */
export function finiteDifferenceGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-6): Float64Array {
  const point = Float64Array.from(x);
  const grad = new Float64Array(point.length);
  for (let i = 0; i < point.length; i++) {
    const saved = point[i]!;
    if (!Number.isFinite(saved)) continue;
    point[i] = saved + h;
    const up = f(point);
    point[i] = saved - h;
    const down = f(point);
    point[i] = saved;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}
