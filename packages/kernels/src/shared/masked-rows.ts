/**
 * Rows whose logits are −∞ everywhere ("fully masked") have no distribution: the kernels give them
 * loss 0 and gradient 0 while they still count in the normaliser N, which silently shrinks every
 * other row's share (and a single masked label token, by contrast, gives +∞). Distillery rejects
 * them instead: `E_BAD_VALUE` naming the tensor and the first such row, with the two ways to leave a
 * row out on purpose (its label = ignoreIndex, which also removes it from N, or a finite logit).
 * Rows that do not count (label = ignoreIndex) may be fully masked.
 */
import { DistilleryError } from '@distillery/core';
import { readBuffer, type GpuTensor } from '@distillery/webgpu';
import { ROW, ROW_WORDS, SENTINEL } from './layout.js';

export interface MaskedRowCheck {
  rowstats: GpuTensor;
  rows: number;
  student: string;
  /** Field of a dense teacher whose rows are checked too (soft term on), else undefined. */
  teacher?: string;
  ignoreIndex: number;
}

/** First counted row of `column` that holds the all-−∞ sentinel, or −1. */
export function firstMaskedRow(stats: Float32Array, rows: number, column: number): number {
  for (let r = 0; r < rows; r++) {
    const o = r * ROW_WORDS;
    if (stats[o + ROW.active]! > 0 && stats[o + column]! <= SENTINEL) return r;
  }
  return -1;
}

export async function maskedRowError(check: MaskedRowCheck): Promise<DistilleryError | undefined> {
  if (check.rows === 0) return undefined;
  const stats = new Float32Array(await readBuffer(check.rowstats.device, check.rowstats.buffer, check.rows * ROW_WORDS * 4));
  const hint = `leave the row out with its label = ignoreIndex (${check.ignoreIndex}), which also removes it from the normaliser N`;
  const studentRow = firstMaskedRow(stats, check.rows, ROW.zMax);
  if (studentRow >= 0) {
    return new DistilleryError(
      'E_BAD_VALUE',
      `${check.student} row ${studentRow} is −Infinity everywhere (fully masked): it has no distribution; ${hint}`,
      {
        field: check.student,
        row: studentRow,
        value: '-Infinity (every entry)',
        expected: 'at least one finite logit per counted row',
      },
    );
  }
  if (check.teacher) {
    const teacherRow = firstMaskedRow(stats, check.rows, ROW.tMax);
    if (teacherRow >= 0) {
      return new DistilleryError(
        'E_BAD_VALUE',
        `${check.teacher} row ${teacherRow} is −Infinity everywhere (fully masked): the teacher gives no distribution; ${hint}`,
        {
          field: check.teacher,
          row: teacherRow,
          value: '-Infinity (every entry)',
          expected: 'at least one finite logit per counted row',
        },
      );
    }
  }
  return undefined;
}
