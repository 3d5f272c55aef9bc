import { badValue, DistilleryError, requireInteger, requireNonNegative, requirePositive, type TeacherTargets } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import { warnDegenerateJsd } from '../../shared/warnings.js';
import { DEFAULT_PARAMS, type RowParams } from '../../shared/params.js';
import type { SummaryContext } from '../../shared/summary.js';
import {
  requireDType,
  requireFloat,
  requireOneOf,
  requireSameDevice,
  requireShape,
  requireTensor,
  rowsCols,
} from '../../shared/validate.js';
import { t1Mode, type FloatDType, type T1Mode } from '../../shared/wgsl-lib.js';
import type { Divergence, TailMode } from '../row-stats/row-merge.wgsl.js';

/*
 * The row-loss engine's first step: the options of one fused row loss (soft KD term, hard
 * cross-entropy term, or both) validated into a `RowLossPlan`. `kdLoss` and `crossEntropy` are
 * front ends over it (crossEntropy is the plan with softWeight 0 and no teacher).
 */

export type { Divergence, TailMode };
export type VocabMismatch = 'error' | 'truncate' | 'mask';
export type CheckMode = 'await' | 'lazy';

export const DIVERGENCES: readonly Divergence[] = ['forward-kl', 'reverse-kl', 'jsd'];
export const TAIL_MODES: readonly TailMode[] = ['ignore', 'bucket'];
export const VOCAB_MISMATCH: readonly VocabMismatch[] = ['error', 'truncate', 'mask'];

export interface RowLossOptions {
  /** `[rows, V]` student logits, f32 or f16. */
  studentLogits: GpuTensor;
  /**
   * Dense teacher logits `[rows, Vt]` (tempered by the loss), or the teacher's top-k
   * `indices [rows, k]` (i32) with `logprobs [rows, k]` (f32, log-probabilities over the full
   * vocabulary at T = 1) and optionally `tailMass [rows]` (f32, 1 − Σ exp(logprobs) when omitted).
   * Required when softWeight > 0.
   */
  teacher?: TeacherTargets<GpuTensor>;
  /** `[rows]` i32 class indices for the hard term; rows equal to ignoreIndex are skipped entirely. */
  labels?: GpuTensor;
  /** Default 'forward-kl' (Hinton): KL(p_T ‖ p_S). */
  divergence?: Divergence;
  /** JSD mixture weight of the teacher, in [0, 1]. Default 0.5. */
  beta?: number;
  /**
   * Divide the JSD by β(1 − β), so that it tends to forward KL at β = 0 and reverse KL at β = 1
   * (and equals them there). Default false: the GKD definition, which is 0 at both ends.
   */
  jsdNormalized?: boolean;
  /**
   * T > 0, applied to student and teacher. Default 1: the kernel tempers only when asked, like its
   * float64 reference. The training-side defaults are higher on purpose — the `KdLoss` class 2, `distill()` 4
   * (docs/kernels.md, "Defaults").
   */
  temperature?: number;
  /** Weight of the soft (distillation) term. Required. */
  softWeight: number;
  /** Weight of the hard-label cross-entropy at T = 1. Required (0 when there are no labels). */
  hardWeight: number;
  /** Multiply the soft term by T² (Hinton et al.), default true. */
  scaleByTemperatureSquared?: boolean;
  /** Label value of rows to skip. Default −100. */
  ignoreIndex?: number;
  /** Divide sums and gradients by this instead of the number of non-ignored rows. */
  normalizer?: number;
  /**
   * `[rows]` f32 weights ≥ 0, one per row (core's `LossInputs.rowWeights`): row r's soft and hard
   * terms and its gradient row are multiplied by w_r before the sum ÷ N. N is unchanged (the
   * normaliser, else the number of non-ignored rows, whatever their weights); a weight of 0 gives
   * exactly 0 and a zero gradient row; ignored rows stay ignored. Negative or non-finite weights of
   * rows that count are an E_BAD_VALUE on readback.
   */
  rowWeights?: GpuTensor;
  /** Top-k teacher: drop the missing mass ('ignore', default) or keep it as one tail atom ('bucket'). */
  tail?: TailMode;
  /** Teacher vocabulary ≠ student vocabulary: 'error' (default), 'truncate' or 'mask'. */
  vocabMismatch?: VocabMismatch;
  /** Gradient dtype; default the student's. */
  gradDtype?: FloatDType;
  /**
   * Write dL/dz over `studentLogits` (the result's `gradLogits` is then that tensor, not a new
   * one), like Liger-Kernel's fused linear cross-entropy: one `[rows, V]` buffer instead of two.
   * The gradient dtype is the student's. Default false.
   */
  inPlace?: boolean;
  /**
   * `[rows]` f32 tensors (or row windows of larger ones) that receive the per-row terms instead of
   * new tensors; the result's `perRow` then holds them, and `release()` leaves them to the caller.
   */
  perRow?: { total?: GpuTensor; soft?: GpuTensor; hard?: GpuTensor };
  /**
   * 'await' (default for `kdLoss`): wait for the kernel's input flags and throw before returning.
   * 'lazy': return at once; the flags are checked by every readback (total(), check()...).
   */
  check?: CheckMode;
  /** Field names for error messages (default `studentLogits`, `teacher.logits`...). */
  names?: { student?: string; teacher?: string; labels?: string; rowWeights?: string };
}

interface DenseTeacherPlan {
  kind: 'dense';
  tensor: GpuTensor;
  dtype: FloatDType;
  stride: number;
  cols: number;
}
interface TopkTeacherPlan {
  kind: 'topk';
  indices: GpuTensor;
  logprobs: GpuTensor;
  tailMass?: GpuTensor;
  k: number;
}
type TeacherPlan = { kind: 'none' } | DenseTeacherPlan | TopkTeacherPlan;

/** Everything the recording needs, validated. */
export interface RowLossPlan {
  device: GPUDevice;
  rows: number;
  vocab: number;
  student: GpuTensor;
  studentDtype: FloatDType;
  teacher: TeacherPlan;
  labels?: GpuTensor;
  rowWeights?: GpuTensor;
  divergence: Divergence;
  tail: TailMode;
  gradDtype: FloatDType;
  inPlace: boolean;
  perRowInto: { total?: GpuTensor; soft?: GpuTensor; hard?: GpuTensor };
  params: Omit<RowParams, 'rows' | 'rowBase' | 'zShift' | 'tShift' | 'gShift' | 'chunk' | 'nChunks'>;
  context: SummaryContext;
  termNames: ('soft' | 'hard')[];
  vocabMismatch: VocabMismatch;
  /** How the streaming passes make the hard term's T = 1 softmax (a variant: compiled per mode). */
  t1: T1Mode;
}

function finiteIn(field: string, value: number, min: number, max: number): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max))
    throw badValue(field, value, `a number in [${min}, ${max}]`);
  return value;
}

/** Validates the options of a row loss (`kdLoss`, `crossEntropy`) into a plan; throws typed errors naming the field. */
export function planRowLoss(options: RowLossOptions): RowLossPlan {
  if (!options || typeof options !== 'object') throw badValue('options', options, 'an object');
  const names = {
    student: options.names?.student ?? 'studentLogits',
    teacher: options.names?.teacher ?? 'teacher',
    labels: options.names?.labels ?? 'labels',
    rowWeights: options.names?.rowWeights ?? 'rowWeights',
  };
  const student = requireTensor(names.student, options.studentLogits);
  const studentDtype = requireFloat(names.student, student);
  const [rows, vocab] = rowsCols(names.student, student);
  if (vocab < 1) throw badValue(`${names.student}.shape[1]`, vocab, 'a vocabulary of at least 1');
  const device = student.device;
  const temperature = requirePositive('temperature', options.temperature ?? 1);
  const softWeight = requireNonNegative('softWeight', options.softWeight);
  const hardWeight = requireNonNegative('hardWeight', options.hardWeight);
  const divergence = requireOneOf('divergence', options.divergence ?? 'forward-kl', DIVERGENCES);
  const beta = finiteIn('beta', options.beta ?? 0.5, 0, 1);
  const tail = requireOneOf('tail', options.tail ?? 'ignore', TAIL_MODES);
  const vocabMismatch = requireOneOf('vocabMismatch', options.vocabMismatch ?? 'error', VOCAB_MISMATCH);
  const ignoreIndex = requireInteger('ignoreIndex', options.ignoreIndex ?? -100, -(2 ** 31), 2 ** 31 - 1);
  const normalizer = options.normalizer === undefined ? 0 : requirePositive('normalizer', options.normalizer);
  requireOneOf('check', options.check ?? 'await', ['await', 'lazy'] as const);
  const gradDtype = options.gradDtype === undefined ? studentDtype : requireOneOf('gradDtype', options.gradDtype, ['f32', 'f16'] as const);
  const inPlace = options.inPlace ?? false;
  if (typeof inPlace !== 'boolean') throw badValue('inPlace', inPlace, 'a boolean');
  if (inPlace && gradDtype !== studentDtype)
    throw badValue(
      'gradDtype',
      gradDtype,
      `the dtype of ${names.student} ('${studentDtype}') with inPlace: the gradient overwrites the logits`,
    );
  const perRowInto: RowLossPlan['perRowInto'] = {};
  for (const name of ['total', 'soft', 'hard'] as const) {
    const given = options.perRow?.[name];
    if (given === undefined) continue;
    const tensor = requireTensor(`perRow.${name}`, given);
    requireDType(`perRow.${name}`, tensor, 'f32');
    requireShape(`perRow.${name}`, tensor, [rows]);
    requireSameDevice(`perRow.${name}`, tensor, device);
    perRowInto[name] = tensor;
  }
  if (gradDtype === 'f16' && !device.features.has('shader-f16')) {
    throw new DistilleryError('E_UNSUPPORTED', "gradDtype 'f16' needs the device feature 'shader-f16'", {
      field: 'gradDtype',
      value: 'f16',
    });
  }

  let labels: GpuTensor | undefined;
  if (options.labels !== undefined) {
    labels = requireTensor(names.labels, options.labels);
    requireDType(names.labels, labels, 'i32');
    requireShape(names.labels, labels, [rows]);
    requireSameDevice(names.labels, labels, device);
  }
  let rowWeights: GpuTensor | undefined;
  if (options.rowWeights !== undefined) {
    rowWeights = requireTensor(names.rowWeights, options.rowWeights);
    requireDType(names.rowWeights, rowWeights, 'f32');
    requireShape(names.rowWeights, rowWeights, [rows]);
    requireSameDevice(names.rowWeights, rowWeights, device);
  }
  if (hardWeight > 0 && !labels) throw badValue(names.labels, undefined, 'a [rows] i32 tensor when hardWeight > 0');

  let teacher: TeacherPlan = { kind: 'none' };
  const t = options.teacher;
  if (t !== undefined) {
    if (!t || typeof t !== 'object')
      throw badValue(names.teacher, t, "teacher targets ({ kind: 'dense', logits } or { kind: 'topk', indices, logprobs })");
    if (t.kind === 'dense') {
      const field = `${names.teacher}.logits`;
      const tensor = requireTensor(field, t.logits);
      const dtype = requireFloat(field, tensor);
      const [tRows, tVocab] = rowsCols(field, tensor);
      requireSameDevice(field, tensor, device);
      if (tRows !== rows)
        throw new DistilleryError('E_SHAPE_MISMATCH', `${field} has ${tRows} rows, ${names.student} has ${rows}`, {
          field,
          value: [...tensor.shape],
          expected: `[${rows}, vocab]`,
        });
      let cols = tVocab;
      if (tVocab !== vocab) {
        if (vocabMismatch === 'error' || (tVocab < vocab && vocabMismatch === 'truncate')) {
          throw new DistilleryError(
            'E_SHAPE_MISMATCH',
            `${field} has a vocabulary of ${tVocab}, ${names.student} of ${vocab}; pass vocabMismatch 'truncate' (teacher columns ≥ ${vocab} dropped, teacher renormalised) or 'mask' (student padded with −inf)${tVocab < vocab ? " — with a smaller teacher only 'mask' applies" : ''}`,
            { field, value: [...tensor.shape], expected: `[${rows}, ${vocab}]` },
          );
        }
        if (vocabMismatch === 'truncate') cols = vocab;
      }
      teacher = { kind: 'dense', tensor, dtype, stride: tVocab, cols };
    } else if (t.kind === 'topk') {
      const indices = requireTensor(`${names.teacher}.indices`, t.indices);
      const logprobs = requireTensor(`${names.teacher}.logprobs`, t.logprobs);
      requireDType(`${names.teacher}.indices`, indices, 'i32');
      requireDType(`${names.teacher}.logprobs`, logprobs, 'f32');
      const [iRows, k] = rowsCols(`${names.teacher}.indices`, indices);
      if (iRows !== rows || indices.shape.length !== 2)
        throw new DistilleryError(
          'E_SHAPE_MISMATCH',
          `${names.teacher}.indices has shape [${indices.shape.join(', ')}], expected [${rows}, k]`,
          { field: `${names.teacher}.indices`, value: [...indices.shape] },
        );
      requireShape(`${names.teacher}.logprobs`, logprobs, [rows, k]);
      if (t.k !== undefined && t.k !== k) throw badValue(`${names.teacher}.k`, t.k, `the indices' second dimension (${k})`);
      if (k < 1) throw badValue(`${names.teacher}.k`, k, 'at least 1');
      if (k > vocab && vocabMismatch !== 'mask') throw badValue(`${names.teacher}.k`, k, `at most the student vocabulary (${vocab})`);
      requireSameDevice(`${names.teacher}.indices`, indices, device);
      requireSameDevice(`${names.teacher}.logprobs`, logprobs, device);
      let tailMass: GpuTensor | undefined;
      if (t.tailMass !== undefined) {
        tailMass = requireTensor(`${names.teacher}.tailMass`, t.tailMass);
        requireDType(`${names.teacher}.tailMass`, tailMass, 'f32');
        requireShape(`${names.teacher}.tailMass`, tailMass, [rows]);
      }
      if (divergence === 'reverse-kl' && tail === 'ignore' && softWeight > 0) {
        throw new DistilleryError(
          'E_UNSUPPORTED',
          "reverse KL with a top-k teacher needs tail: 'bucket': with the tail ignored the teacher gives probability 0 to every token outside its top-k, so KL(p_S ‖ p_T) is +inf",
          { field: 'tail', value: 'ignore' },
        );
      }
      teacher = { kind: 'topk', indices, logprobs, tailMass, k };
    } else {
      throw badValue(`${names.teacher}.kind`, (t as { kind?: unknown }).kind, "'dense' or 'topk'");
    }
  }
  if (softWeight > 0 && teacher.kind === 'none') throw badValue(names.teacher, undefined, 'teacher targets when softWeight > 0');

  // JSD at the ends: the GKD definition is identically 0 there; normalised, it is forward / reverse KL.
  let effective = divergence;
  let factor = 1;
  let zeroSoft = false;
  const jsdNormalized = Boolean(options.jsdNormalized);
  warnDegenerateJsd(divergence, beta, jsdNormalized, softWeight);
  if (divergence === 'jsd') {
    if (beta === 0 || beta === 1) {
      if (jsdNormalized) effective = beta === 0 ? 'forward-kl' : 'reverse-kl';
      else {
        effective = 'forward-kl';
        zeroSoft = true;
      }
    } else if (jsdNormalized) factor = 1 / (beta * (1 - beta));
  }
  if (effective === 'reverse-kl' && teacher.kind === 'topk' && tail === 'ignore' && softWeight > 0 && !zeroSoft) {
    throw new DistilleryError('E_UNSUPPORTED', "normalised JSD at β = 1 is reverse KL, which needs tail: 'bucket' with a top-k teacher", {
      field: 'tail',
      value: 'ignore',
    });
  }
  const tau = options.scaleByTemperatureSquared === false ? 1 : temperature * temperature;
  const softLossScale = zeroSoft || teacher.kind === 'none' ? 0 : softWeight * tau * factor;
  const tCols = teacher.kind === 'dense' ? teacher.cols : 0;
  const cols = teacher.kind === 'dense' ? Math.max(vocab, tCols) : vocab;
  const params: RowLossPlan['params'] = {
    ...DEFAULT_PARAMS,
    totalRows: rows,
    vocab,
    cols,
    tCols,
    zStride: vocab,
    tStride: teacher.kind === 'dense' ? teacher.stride : 0,
    k: teacher.kind === 'topk' ? teacher.k : 0,
    hasLabels: Boolean(labels),
    ignoreIndex,
    needT1: Boolean(labels) && hardWeight > 0 && temperature !== 1,
    normalizer,
    invT: 1 / temperature,
    softScale: softLossScale / temperature,
    softLossScale,
    hardWeight: labels ? hardWeight : 0,
    beta,
    oneMinusBeta: 1 - beta,
    logBeta: Math.log(beta),
    log1mBeta: Math.log1p(-beta),
    hasTailMass: teacher.kind === 'topk' && Boolean(teacher.tailMass),
    topkMismatch: vocabMismatch === 'error' ? 0 : vocabMismatch === 'truncate' ? 1 : 2,
  };
  const context: SummaryContext = {
    student: names.student,
    teacher: teacher.kind === 'dense' ? `${names.teacher}.logits` : teacher.kind === 'topk' ? `${names.teacher}.logprobs` : undefined,
    labels: labels ? { tensor: labels, field: names.labels } : undefined,
    indices: teacher.kind === 'topk' ? { tensor: teacher.indices, field: `${names.teacher}.indices`, k: teacher.k } : undefined,
    logprobs: `${names.teacher}.logprobs`,
    tailMass: teacher.kind === 'topk' && teacher.tailMass ? { tensor: teacher.tailMass, field: `${names.teacher}.tailMass` } : undefined,
    rowWeights: rowWeights ? { tensor: rowWeights, field: names.rowWeights } : undefined,
    vocab,
    ignoreIndex,
    vocabMismatch,
  };
  const termNames: ('soft' | 'hard')[] = [];
  if (teacher.kind !== 'none') termNames.push('soft');
  if (labels) termNames.push('hard');
  return {
    device,
    rows,
    vocab,
    student,
    studentDtype,
    teacher,
    labels,
    rowWeights,
    divergence: effective,
    tail,
    gradDtype,
    inPlace,
    perRowInto,
    params,
    context,
    termNames,
    vocabMismatch,
    t1: t1Mode(params.needT1, temperature),
  };
}
