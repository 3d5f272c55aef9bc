import { badValue, DistilleryError, requireInteger, requireNonNegative, requirePositive, type LossOutput, type LossTerm, type TeacherTargets } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { PARTIAL_WORDS, ROW_WORDS } from '../../shared/layout.js';
import { maskedRowError, type MaskedRowCheck } from '../../shared/masked-rows.js';
import { warnDegenerateJsd } from '../../shared/warnings.js';
import { DEFAULT_PARAMS, packRowParams, type RowParams } from '../../shared/params.js';
import { errorFromSummary, readSummary, type SummaryContext, type SummaryValues } from '../../shared/summary.js';
import { requireDType, requireFloat, requireOneOf, requireSameDevice, requireShape, requireTensor, rowsCols } from '../../shared/validate.js';
import { initialSummary, type FloatDType } from '../../shared/wgsl-lib.js';
import { tuningFor } from '../../shared/tuning.js';
import { planChunks, planRowGroups, type RowGroup, type RowTensor } from '../../shared/windows.js';
import {
  kdDivergenceMergeProgram,
  kdDivergenceProgram,
  kdFinalizeProgram,
  kdGradientProgram,
  kdTopkScatterProgram,
  rowMergeProgram,
  rowStatsProgram,
} from '../../programs.js';
import type { Divergence, TailMode } from '../row-stats/row-merge.wgsl.js';

export type { Divergence, TailMode };
export type VocabMismatch = 'error' | 'truncate' | 'mask';
export type CheckMode = 'await' | 'lazy';

export const DIVERGENCES: readonly Divergence[] = ['forward-kl', 'reverse-kl', 'jsd'];
export const TAIL_MODES: readonly TailMode[] = ['ignore', 'bucket'];
export const VOCAB_MISMATCH: readonly VocabMismatch[] = ['error', 'truncate', 'mask'];

export interface KdLossOptions {
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
  /** T > 0, applied to student and teacher. Default 1. */
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
   * 'await' (default for `kdLoss`): wait for the kernel's input flags and throw before returning.
   * 'lazy': return at once; the flags are checked by every readback (total(), check()...).
   */
  check?: CheckMode;
  /** Field names for error messages (default `studentLogits`, `teacher.logits`...). */
  names?: { student?: string; teacher?: string; labels?: string; rowWeights?: string };
}

/** GPU results of one fused loss, plus lazily read scalars. Implements core's `LossOutput`. */
export class RowLossResult implements LossOutput<GpuTensor> {
  /** `[rows, V]` dL/dz of the total. */
  readonly gradLogits: GpuTensor;
  /** `[rows]` f32 terms as they enter the total (weighted, row weights included; not divided by N). */
  readonly perRow: { total: GpuTensor; soft: GpuTensor; hard: GpuTensor };
  readonly terms: Record<string, LossTerm<GpuTensor>>;
  readonly #summary: GpuTensor;
  readonly #context: SummaryContext;
  #values?: Promise<SummaryValues>;
  #scratch: GpuTensor[] = [];

  constructor(grad: GpuTensor, perRow: { total: GpuTensor; soft: GpuTensor; hard: GpuTensor }, summary: GpuTensor, context: SummaryContext, termNames: readonly ('soft' | 'hard')[]) {
    this.gradLogits = grad;
    this.perRow = perRow;
    this.#summary = summary;
    this.#context = context;
    this.terms = {};
    for (const name of termNames) this.terms[name] = { perRow: perRow[name], reduced: () => this.#checked().then((v) => v[name]) };
  }

  #masked?: Omit<MaskedRowCheck, 'rowstats'> & { rowstats?: GpuTensor };
  #maskedError?: Promise<DistilleryError | undefined>;

  async #checked(): Promise<SummaryValues> {
    this.#values ??= readSummary(this.#summary);
    const masked = this.#masked;
    if (masked?.rowstats && !this.#maskedError) {
      const rowstats = masked.rowstats;
      // Read in parallel with the summary; the row stats are not needed after this.
      this.#maskedError = maskedRowError({ ...masked, rowstats }).finally(() => {
        rowstats.release();
        masked.rowstats = undefined;
      });
    }
    const values = await this.#values;
    const error = (await errorFromSummary(values, this.#context)) ?? (await this.#maskedError);
    if (error) throw error;
    return values;
  }

  /** @internal Keeps the row stats until the first readback, which rejects fully masked rows. */
  keepRowStats(check: MaskedRowCheck): void {
    this.#masked = check;
  }

  /** Throws the typed error of any bad input the kernels flagged (E_NON_FINITE, E_BAD_VALUE). */
  check = async (): Promise<void> => {
    await this.#checked();
  };

  /** Σ_rows (soft + hard) ÷ N. */
  total = async (): Promise<number> => (await this.#checked()).total;
  soft = async (): Promise<number> => (await this.#checked()).soft;
  hard = async (): Promise<number> => (await this.#checked()).hard;
  /** Number of rows that counted (label ≠ ignoreIndex). */
  rows = async (): Promise<number> => (await this.#checked()).count;
  /** The N the sums and gradients were divided by. */
  normalizer = async (): Promise<number> => (await this.#checked()).normalizer;

  /**
   * Hands the intermediate buffers (partials, row stats) back to the pool. Call it once the
   * recorder holding this loss was submitted (`kdLoss` does); `release()` does it too.
   */
  releaseScratch(): void {
    for (const t of this.#scratch) t.release();
    this.#scratch = [];
  }

  /** @internal */
  adoptScratch(scratch: GpuTensor[]): void {
    this.#scratch.push(...scratch);
  }

  /** Returns every buffer (gradient included) to the pool. */
  release(): void {
    this.releaseScratch();
    if (this.#masked?.rowstats && !this.#maskedError) {
      this.#masked.rowstats.release();
      this.#masked.rowstats = undefined;
    }
    this.gradLogits.release();
    this.perRow.total.release();
    this.perRow.soft.release();
    this.perRow.hard.release();
    this.#summary.release();
  }
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
  params: Omit<RowParams, 'rows' | 'rowBase' | 'zShift' | 'tShift' | 'gShift' | 'chunk' | 'nChunks'>;
  context: SummaryContext;
  termNames: ('soft' | 'hard')[];
  vocabMismatch: VocabMismatch;
}

function finiteIn(field: string, value: number, min: number, max: number): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) throw badValue(field, value, `a number in [${min}, ${max}]`);
  return value;
}

/** Validates the options of `kdLoss` (and `crossEntropy`) into a plan; throws typed errors naming the field. */
export function planKdLoss(options: KdLossOptions): RowLossPlan {
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
  if (gradDtype === 'f16' && !device.features.has('shader-f16')) {
    throw new DistilleryError('E_UNSUPPORTED', "gradDtype 'f16' needs the device feature 'shader-f16'", { field: 'gradDtype', value: 'f16' });
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
    if (!t || typeof t !== 'object') throw badValue(names.teacher, t, "teacher targets ({ kind: 'dense', logits } or { kind: 'topk', indices, logprobs })");
    if (t.kind === 'dense') {
      const field = `${names.teacher}.logits`;
      const tensor = requireTensor(field, t.logits);
      const dtype = requireFloat(field, tensor);
      const [tRows, tVocab] = rowsCols(field, tensor);
      requireSameDevice(field, tensor, device);
      if (tRows !== rows) throw new DistilleryError('E_SHAPE_MISMATCH', `${field} has ${tRows} rows, ${names.student} has ${rows}`, { field, value: [...tensor.shape], expected: `[${rows}, vocab]` });
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
      if (iRows !== rows || indices.shape.length !== 2) throw new DistilleryError('E_SHAPE_MISMATCH', `${names.teacher}.indices has shape [${indices.shape.join(', ')}], expected [${rows}, k]`, { field: `${names.teacher}.indices`, value: [...indices.shape] });
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
    throw new DistilleryError('E_UNSUPPORTED', "normalised JSD at β = 1 is reverse KL, which needs tail: 'bucket' with a top-k teacher", { field: 'tail', value: 'ignore' });
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
  return { device, rows, vocab, student, studentDtype, teacher, labels, rowWeights, divergence: effective, tail, gradDtype, params, context, termNames, vocabMismatch };
}

/** Records the whole loss (4–7 dispatches per row group) into `recorder`; nothing is submitted. */
export function recordRowLoss(recorder: CommandRecorder, plan: RowLossPlan): RowLossResult {
  const { device, rows, vocab, student, teacher, labels, rowWeights, divergence } = plan;
  const label = plan.termNames.includes('soft') ? `kd-loss(${divergence})` : 'cross-entropy';
  const grad = createTensor(device, { shape: [rows, vocab], dtype: plan.gradDtype, label: `${label}:gradLogits` });
  const perRow = {
    soft: createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:soft` }),
    hard: createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:hard` }),
    total: createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:total` }),
  };
  const summary = createTensor(device, { shape: [16], dtype: 'u32', label: `${label}:summary` });
  device.queue.writeBuffer(summary.buffer, 0, initialSummary());
  const result = new RowLossResult(grad, perRow, summary, plan.context, plan.termNames);
  if (rows === 0) {
    recorder.dispatch({
      program: kdFinalizeProgram,
      variant: { lossPartials: false, rowWeights: false },
      uniforms: packRowParams({ ...plan.params, rows: 0, rowBase: 0, zShift: 0, tShift: 0, gShift: 0, chunk: 1, nChunks: 1 }),
      bindings: [dummy(device, 'rowstats'), summary, perRow.soft, perRow.hard, perRow.total],
      workgroups: [1],
      label: `${label}:finalize`,
    });
    return result;
  }

  const dense = teacher.kind === 'dense' ? teacher : undefined;
  const topk = teacher.kind === 'topk' ? teacher : undefined;
  const vec4 = vocab % 4 === 0 && (!dense || (dense.stride % 4 === 0 && dense.cols % 4 === 0));
  const tuning = tuningFor(device);
  const STREAM_WG = tuning.streamWorkgroup;
  const { chunk, nChunks } = planChunks(rows, plan.params.cols, tuning);
  const scratch: GpuTensor[] = [];
  const scratchTensor = (name: string, size: number) => {
    const tensor = createTensor(device, { shape: [Math.max(1, size)], dtype: 'f32', label: `${label}:${name}` });
    checkBindingSize(device, tensor.label, tensor.byteLength);
    scratch.push(tensor);
    return tensor;
  };
  const partials = scratchTensor('partials', rows * nChunks * PARTIAL_WORDS);
  const rowstats = scratchTensor('rowstats', rows * ROW_WORDS);
  // Kept past the submit: the first readback rejects fully masked rows from it (masked-rows.ts).
  scratch.splice(scratch.indexOf(rowstats), 1);
  result.keepRowStats({ rowstats, rows, student: plan.context.student, teacher: dense && plan.params.softLossScale > 0 ? plan.context.teacher : undefined, ignoreIndex: plan.context.ignoreIndex });
  const fwdDense = Boolean(dense) && divergence === 'forward-kl';
  const divDense = Boolean(dense) && divergence !== 'forward-kl';
  const lossPartials = fwdDense ? scratchTensor('lossPartials', rows * nChunks) : undefined;
  const divPartials = divDense ? scratchTensor('divPartials', rows * nChunks * 2) : undefined;
  for (const [field, tensor] of [
    [plan.context.labels?.field, labels],
    [plan.context.indices?.field, topk?.indices],
    [plan.context.logprobs, topk?.logprobs],
    [plan.context.tailMass?.field, topk?.tailMass],
    [plan.context.rowWeights?.field, rowWeights],
  ] as const) {
    if (tensor) checkBindingSize(device, field ?? tensor.label, tensor.byteLength);
  }

  const windowed: RowTensor[] = [{ tensor: student, stride: vocab, field: plan.context.student }];
  if (dense) windowed.push({ tensor: dense.tensor, stride: dense.stride, field: plan.context.teacher ?? 'teacher' });
  windowed.push({ tensor: grad, stride: vocab, field: 'gradLogits' });
  const groups = planRowGroups(device, rows, windowed);
  const bind = (group: RowGroup, which: 'z' | 't' | 'g') => {
    const index = which === 'z' ? 0 : which === 't' ? 1 : dense ? 2 : 1;
    return group.bindings[index]!;
  };
  const paramsFor = (group: RowGroup): ReturnType<typeof packRowParams> =>
    packRowParams({
      ...plan.params,
      rows: group.end - group.start,
      rowBase: group.start,
      zShift: bind(group, 'z').shift,
      tShift: dense ? bind(group, 't').shift : 0,
      gShift: bind(group, 'g').shift,
      chunk,
      nChunks,
    });
  const studentDtype = plan.studentDtype;
  const streamGrid = (group: RowGroup) => linearGrid(device, (group.end - group.start) * nChunks);
  const rowGrid = (group: RowGroup, perGroup: number) => linearGrid(device, Math.ceil((group.end - group.start) / perGroup));

  for (const group of groups) {
    const uniforms = paramsFor(group);
    const z = bind(group, 'z').binding;
    const t = dense ? bind(group, 't').binding : undefined;
    recorder.dispatch({
      program: rowStatsProgram,
      variant: { student: studentDtype, teacher: dense ? dense.dtype : null, vec4, workgroupSize: STREAM_WG },
      uniforms,
      bindings: t ? [z, t, partials, summary] : [z, partials, summary],
      workgroups: streamGrid(group),
      label: `${label}:row-stats`,
    });
    const mergeBindings: Array<GpuTensor | GPUBufferBinding> = [partials, rowstats, summary];
    if (labels || topk) mergeBindings.push(z);
    if (labels) mergeBindings.push(labels);
    if (topk) mergeBindings.push(topk.indices, topk.logprobs);
    // Only the 'bucket' tail reads the tail mass; binding it otherwise would not match the layout.
    const tailMass = plan.tail === 'bucket' ? topk?.tailMass : undefined;
    if (tailMass) mergeBindings.push(tailMass);
    recorder.dispatch({
      program: rowMergeProgram,
      variant: { teacher: teacher.kind, labels: Boolean(labels), student: studentDtype, divergence, tail: plan.tail, tailMass: Boolean(tailMass), workgroupSize: topk ? tuning.rowWorkgroup : 64 },
      uniforms,
      bindings: mergeBindings,
      workgroups: topk ? rowGrid(group, 1) : rowGrid(group, 64),
      label: `${label}:row-merge`,
    });
    if (divDense && t && divPartials) {
      const d = divergence as 'reverse-kl' | 'jsd';
      recorder.dispatch({
        program: kdDivergenceProgram,
        variant: { student: studentDtype, teacher: dense!.dtype, vec4, divergence: d, workgroupSize: STREAM_WG },
        uniforms,
        bindings: [z, t, rowstats, divPartials],
        workgroups: streamGrid(group),
        label: `${label}:divergence`,
      });
      recorder.dispatch({
        program: kdDivergenceMergeProgram,
        variant: { divergence: d },
        uniforms,
        bindings: [divPartials, rowstats],
        workgroups: rowGrid(group, 64),
        label: `${label}:divergence-merge`,
      });
    }
  }
  // The gradient needs N, which needs every row's label: all merges come first.
  for (const group of groups) {
    const uniforms = paramsFor(group);
    const z = bind(group, 'z').binding;
    const g = bind(group, 'g').binding;
    const bindings: Array<GpuTensor | GPUBufferBinding> = [z];
    if (dense) bindings.push(bind(group, 't').binding);
    bindings.push(rowstats, summary);
    if (labels) bindings.push(labels);
    if (rowWeights) bindings.push(rowWeights);
    bindings.push(g);
    if (lossPartials) bindings.push(lossPartials);
    recorder.dispatch({
      program: kdGradientProgram,
      variant: { student: studentDtype, teacher: dense ? dense.dtype : teacher.kind === 'topk' ? 'topk' : 'none', grad: plan.gradDtype, vec4, divergence, labels: Boolean(labels), rowWeights: Boolean(rowWeights), workgroupSize: STREAM_WG },
      uniforms,
      bindings,
      workgroups: streamGrid(group),
      label: `${label}:gradient`,
    });
    if (topk) {
      const scatter: Array<GpuTensor | GPUBufferBinding> = [z, rowstats, summary];
      if (labels) scatter.push(labels);
      if (rowWeights) scatter.push(rowWeights);
      scatter.push(topk.indices, topk.logprobs, g);
      recorder.dispatch({
        program: kdTopkScatterProgram,
        variant: { student: studentDtype, grad: plan.gradDtype, divergence, labels: Boolean(labels), rowWeights: Boolean(rowWeights) },
        uniforms,
        bindings: scatter,
        workgroups: linearGrid(device, Math.ceil(((group.end - group.start) * topk.k) / 64)),
        label: `${label}:topk-scatter`,
      });
    }
  }
  const finalBindings: GpuTensor[] = [rowstats];
  if (lossPartials) finalBindings.push(lossPartials);
  if (rowWeights) finalBindings.push(rowWeights);
  finalBindings.push(summary, perRow.soft, perRow.hard, perRow.total);
  recorder.dispatch({
    program: kdFinalizeProgram,
    variant: { lossPartials: Boolean(lossPartials), rowWeights: Boolean(rowWeights) },
    uniforms: paramsFor({ start: 0, end: rows, bindings: groups[0]!.bindings }),
    bindings: finalBindings,
    workgroups: [1],
    label: `${label}:finalize`,
  });
  result.adoptScratch(scratch);
  return result;
}

const dummies = new WeakMap<GPUDevice, GpuTensor>();
function dummy(device: GPUDevice, label: string): GpuTensor {
  let t = dummies.get(device);
  if (!t) dummies.set(device, (t = createTensor(device, { shape: [ROW_WORDS], dtype: 'f32', label: `kernels:${label}:empty` })));
  return t;
}

/**
 * The fused KD loss and its gradient w.r.t. the student logits in one submit. See docs/kernels.md
 * for the exact math. Resolves once the work is queued — and, with `check: 'await'` (default), once
 * the input flags were read back (throwing E_NON_FINITE / E_BAD_VALUE for bad inputs).
 */
export async function kdLoss(options: KdLossOptions): Promise<RowLossResult> {
  const plan = planKdLoss(options);
  const recorder = new CommandRecorder(plan.device, plan.termNames.includes('soft') ? 'kd-loss' : 'cross-entropy');
  const result = recordRowLoss(recorder, plan);
  await recorder.submit();
  result.releaseScratch();
  if ((options.check ?? 'await') === 'await') {
    try {
      await result.check();
    } catch (error) {
      result.release();
      throw error;
    }
  }
  return result;
}
