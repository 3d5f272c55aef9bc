import { readFloat32, type GpuTensor } from '@distillery/webgpu';
import { expect } from 'vitest';
import { kdLoss, type KdLossOptions } from '../src/index.js';
import { kdLossReference, type KdLossReferenceInputs, type ReferenceTeacher } from '../src/reference.js';
import {
  expectClose,
  expectScalarClose,
  makeLabels,
  makeLogits,
  makeRowWeights,
  makeTopk,
  maxAbs,
  readNumbers,
  roundF16,
  upload,
  type LogitOptions,
} from './helpers.js';

/** One GPU-vs-float64 comparison of the fused KD loss. */
export interface KdCase {
  rows: number;
  vocab: number;
  /** Dense teacher vocabulary (default: vocab). */
  teacherVocab?: number;
  teacher?: 'dense' | 'topk' | 'none';
  k?: number;
  tail?: 'ignore' | 'bucket';
  passTailMass?: boolean;
  divergence?: 'forward-kl' | 'reverse-kl' | 'jsd';
  beta?: number;
  jsdNormalized?: boolean;
  temperature?: number;
  softWeight?: number;
  hardWeight?: number;
  scaleByTemperatureSquared?: boolean;
  normalizer?: number;
  labels?: boolean;
  /** Every n-th row gets ignoreIndex. */
  ignoreEvery?: number;
  /** Per-row weights: random (a quarter of them 0, see `makeRowWeights`) or given. */
  rowWeights?: 'random' | Float32Array;
  vocabMismatch?: 'error' | 'truncate' | 'mask';
  student?: LogitOptions;
  teacherLogits?: LogitOptions;
  studentDtype?: 'f32' | 'f16';
  teacherDtype?: 'f32' | 'f16';
  gradDtype?: 'f32' | 'f16';
  seed?: number;
  /** Compare every step-th gradient element (huge vocabularies). */
  step?: number;
  /** Relative tolerance of the scalar losses (default 2e-5 for f32). */
  rtol?: number;
  /** The in-place variant: the gradient overwrites the student logits. */
  inPlace?: boolean;
  /** Edits the generated logits (row-major; f32, before any f16 rounding) before both sides see them. */
  edit?: (student: Float32Array, teacher: Float32Array) => void;
}

export async function runKdCase(device: GPUDevice, c: KdCase): Promise<void> {
  const seed = c.seed ?? 1;
  const { rows, vocab } = c;
  const tV = c.teacherVocab ?? vocab;
  const teacherKind = c.teacher ?? 'dense';
  let z = makeLogits(seed, rows, vocab, c.student);
  let tl = makeLogits(seed + 1, rows, tV, c.teacherLogits);
  c.edit?.(z, tl);
  if (c.studentDtype === 'f16') z = roundF16(z);
  if (c.teacherDtype === 'f16') tl = roundF16(tl);
  const labels = c.labels === false ? undefined : makeLabels(seed + 2, rows, vocab, c.ignoreEvery ?? 0);
  if (labels) for (let r = 0; r < rows; r++) if (labels[r]! >= 0 && z[r * vocab + labels[r]!] === -Infinity) z[r * vocab + labels[r]!] = 0;
  const rowWeights = c.rowWeights === 'random' ? makeRowWeights(seed + 3, rows) : c.rowWeights;
  const softWeight = c.softWeight ?? (teacherKind === 'none' ? 0 : 1);
  const hardWeight = labels ? (c.hardWeight ?? 0.5) : 0;
  const tensors: GpuTensor[] = [];
  const up = (data: Float32Array | Int32Array, shape: number[], label: string, dtype?: 'f32' | 'f16') => {
    const t = upload(device, data, shape, label, dtype);
    tensors.push(t);
    return t;
  };
  let teacher: KdLossOptions['teacher'];
  let refTeacher: ReferenceTeacher | undefined;
  if (teacherKind === 'dense') {
    teacher = { kind: 'dense', logits: up(tl, [rows, tV], 'teacher', c.teacherDtype) };
    refTeacher = { kind: 'dense', logits: tl, vocab: tV };
  } else if (teacherKind === 'topk') {
    const k = c.k ?? 20;
    const top = makeTopk(tl, rows, tV, k);
    teacher = {
      kind: 'topk',
      k,
      indices: up(top.indices, [rows, k], 'indices'),
      logprobs: up(top.logprobs, [rows, k], 'logprobs'),
      tailMass: c.passTailMass ? up(top.tailMass, [rows], 'tailMass') : undefined,
    };
    refTeacher = { kind: 'topk', k, indices: top.indices, logprobs: top.logprobs, tailMass: c.passTailMass ? top.tailMass : undefined };
  }
  const common = {
    divergence: c.divergence,
    beta: c.beta,
    jsdNormalized: c.jsdNormalized,
    temperature: c.temperature ?? 2,
    softWeight,
    hardWeight,
    scaleByTemperatureSquared: c.scaleByTemperatureSquared,
    normalizer: c.normalizer,
    tail: c.tail,
    vocabMismatch: c.vocabMismatch,
  };
  const studentLogits = up(z, [rows, vocab], 'student', c.studentDtype);
  const result = await kdLoss({
    ...common,
    studentLogits,
    inPlace: c.inPlace,
    teacher,
    labels: labels ? up(labels, [rows], 'labels') : undefined,
    rowWeights: rowWeights ? up(rowWeights, [rows], 'rowWeights') : undefined,
    gradDtype: c.gradDtype,
  });
  const want = kdLossReference({
    ...common,
    rows,
    vocab,
    studentLogits: z,
    teacher: refTeacher,
    labels,
    rowWeights,
  } as KdLossReferenceInputs);

  // In place, the gradient read below is what the kernels wrote over the logits.
  if (c.inPlace) expect(result.gradLogits).toBe(studentLogits);
  const rtol = c.rtol ?? 2e-5;
  expect(await result.rows()).toBe(want.rows);
  expectScalarClose(await result.normalizer(), want.normalizer, 1e-7, 0, 'normalizer');
  const scale = Math.max(1e-3, maxAbs(want.perRow.total));
  expectScalarClose(await result.total(), want.total, rtol, rtol * scale, 'total');
  if (teacherKind !== 'none') expectScalarClose(await result.soft(), want.soft, rtol, rtol * scale, 'soft');
  if (labels) expectScalarClose(await result.hard(), want.hard, rtol, rtol * scale, 'hard');
  expectClose(await readFloat32(result.perRow.soft), want.perRow.soft, { rtol, atol: rtol * scale, what: 'perRow.soft' });
  expectClose(await readFloat32(result.perRow.hard), want.perRow.hard, { rtol, atol: rtol * scale, what: 'perRow.hard' });
  const grad = await readNumbers(result.gradLogits);
  const gScale = maxAbs(want.gradLogits);
  const gradF16 = (c.gradDtype ?? c.studentDtype) === 'f16';
  expectClose(grad, want.gradLogits, {
    rtol: gradF16 ? 2e-3 : 1e-4,
    atol: gradF16 ? 1e-3 * gScale + 1e-7 : 2e-5 * gScale + 1e-9,
    step: c.step ?? 1,
    what: 'gradLogits',
  });
  expect(grad.every((g) => Number.isFinite(g))).toBe(true);
  if (rowWeights) {
    // Weight 0 removes a row exactly: no rounding residue in its terms or its gradient row.
    const perRow = await readFloat32(result.perRow.total);
    for (let r = 0; r < rows; r++) {
      if (rowWeights[r] !== 0) continue;
      expect(Math.abs(perRow[r]!), `perRow.total[${r}] (weight 0)`).toBe(0);
      expect(
        grad.subarray(r * vocab, (r + 1) * vocab).every((g) => g === 0),
        `gradient row ${r} (weight 0)`,
      ).toBe(true);
    }
  }
  result.release();
  for (const t of tensors) t.release();
}
