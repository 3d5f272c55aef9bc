import { DistilleryError } from '@distillery/core';
import { readBuffer, type GpuTensor } from '@distillery/webgpu';
import { viewOffset } from './windows.js';
import { FLAG, SUMMARY } from './layout.js';

/** What one readback of the summary buffer gives. */
export interface SummaryValues {
  flags: number;
  /** First row that raised each FLAG bit (0xffffffff: none). */
  firstRows: number[];
  count: number;
  total: number;
  soft: number;
  hard: number;
  normalizer: number;
}

/** Field names used in error messages, and the tensors the messages quote values from. */
export interface SummaryContext {
  student: string;
  teacher?: string;
  labels?: { tensor: GpuTensor; field: string };
  indices?: { tensor: GpuTensor; field: string; k: number };
  logprobs?: string;
  tailMass?: { tensor: GpuTensor; field: string };
  rowWeights?: { tensor: GpuTensor; field: string };
  vocab: number;
  ignoreIndex: number;
  vocabMismatch?: string;
}

export async function readSummary(summary: GpuTensor): Promise<SummaryValues> {
  const words = new Uint32Array(await readBuffer(summary.device, summary.buffer, 64));
  const floats = new Float32Array(words.buffer);
  return {
    flags: words[SUMMARY.flags]!,
    firstRows: Array.from({ length: 8 }, (_, b) => words[SUMMARY.firstRow + b]!),
    count: words[SUMMARY.count]!,
    total: floats[SUMMARY.total]!,
    soft: floats[SUMMARY.soft]!,
    hard: floats[SUMMARY.hard]!,
    normalizer: floats[SUMMARY.normalizer]!,
  };
}

async function readWords(tensor: GpuTensor, index: number, count: number): Promise<ArrayBuffer> {
  return readBuffer(tensor.device, tensor.buffer, count * 4, viewOffset(tensor) + index * 4);
}

/**
 * Turns the flags the kernels raised into the first matching typed error (non-finite inputs
 * first), naming the tensor, the row and, where it can be read back, the offending value.
 */
export async function errorFromSummary(values: SummaryValues, ctx: SummaryContext): Promise<DistilleryError | undefined> {
  const { flags } = values;
  if (!flags) return undefined;
  const rowOf = (flag: number) => values.firstRows[Math.log2(flag)]!;
  if (flags & FLAG.studentNonFinite) {
    const row = rowOf(FLAG.studentNonFinite);
    return new DistilleryError(
      'E_NON_FINITE',
      `${ctx.student} row ${row} contains NaN or +Infinity (only −Infinity, a masked token, is allowed)`,
      {
        field: ctx.student,
        row,
      },
    );
  }
  if (flags & FLAG.teacherNonFinite) {
    const row = rowOf(FLAG.teacherNonFinite);
    const field = ctx.teacher ?? 'teacher';
    return new DistilleryError(
      'E_NON_FINITE',
      `${field} row ${row} contains NaN or +Infinity (only −Infinity, a masked token, is allowed)`,
      { field, row },
    );
  }
  if (flags & FLAG.labelRange && ctx.labels) {
    const row = rowOf(FLAG.labelRange);
    const value = new Int32Array(await readWords(ctx.labels.tensor, row, 1))[0];
    const field = `${ctx.labels.field}[${row}]`;
    return new DistilleryError(
      'E_BAD_VALUE',
      `${field} must be an integer in [0, ${ctx.vocab}) or ignoreIndex (${ctx.ignoreIndex}), got ${value}`,
      {
        field,
        value,
        expected: `an integer in [0, ${ctx.vocab}) or ${ctx.ignoreIndex}`,
        row,
      },
    );
  }
  if (flags & FLAG.indexRange && ctx.indices) {
    const row = rowOf(FLAG.indexRange);
    const { k, field } = ctx.indices;
    const entries = new Int32Array(await readWords(ctx.indices.tensor, row * k, k));
    const bad = entries.findIndex((i) => i < 0 || (i >= ctx.vocab && ctx.vocabMismatch === 'error'));
    const value = entries[Math.max(0, bad)];
    const name = `${field}[${row}][${Math.max(0, bad)}]`;
    const hint =
      value !== undefined && value >= ctx.vocab
        ? ` (the teacher's vocabulary is larger than the student's: pass vocabMismatch 'truncate' or 'mask' to allow it)`
        : '';
    return new DistilleryError('E_BAD_VALUE', `${name} must be a token index in [0, ${ctx.vocab}), got ${value}${hint}`, {
      field: name,
      value,
      expected: `an integer in [0, ${ctx.vocab})`,
      row,
    });
  }
  if (flags & FLAG.logprobRange) {
    const row = rowOf(FLAG.logprobRange);
    const field = ctx.logprobs ?? 'teacher.logprobs';
    return new DistilleryError('E_BAD_VALUE', `${field} row ${row} must hold log-probabilities (each ≤ 0, Σ exp ≤ 1)`, {
      field,
      row,
      expected: 'log-probabilities over the full vocabulary at T = 1',
    });
  }
  if (flags & FLAG.tailRange && ctx.tailMass) {
    const row = rowOf(FLAG.tailRange);
    const value = new Float32Array(await readWords(ctx.tailMass.tensor, row, 1))[0];
    const field = `${ctx.tailMass.field}[${row}]`;
    return new DistilleryError('E_BAD_VALUE', `${field} must be a probability in [0, 1], got ${value}`, {
      field,
      value,
      expected: 'a number in [0, 1]',
      row,
    });
  }
  if (flags & FLAG.rowWeightRange && ctx.rowWeights) {
    const row = rowOf(FLAG.rowWeightRange);
    const value = new Float32Array(await readWords(ctx.rowWeights.tensor, row, 1))[0];
    const field = `${ctx.rowWeights.field}[${row}]`;
    return new DistilleryError('E_BAD_VALUE', `${field} must be a finite weight ≥ 0, got ${value}`, {
      field,
      value,
      expected: 'a finite number ≥ 0',
      row,
    });
  }
  return new DistilleryError('E_BAD_VALUE', `the kernel flagged bad input (flags 0x${flags.toString(16)})`, { flags });
}
