import { badValue, DistilleryError, requirePositive, type TeacherTargets, type WhiteBoxTeacher } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import { mixtureLogits } from '../kernels/mixture/mixture.js';

export interface EnsembleOptions<TBatch> {
  teachers: readonly WhiteBoxTeacher<TBatch, GpuTensor>[];
  /** Relative weights (default: equal). */
  weights?: readonly number[];
  /**
   * The temperature the student's KD loss uses. The mixture is taken at this temperature, as in
   * Hinton et al.: the returned logits L satisfy softmax(L / T) = Σ w_k softmax(z_k / T).
   */
  temperature: number;
}

/**
 * An ensemble as one teacher: the weighted average of the members' softened probabilities.
 * (For a separate loss per teacher, give each teacher its own `KdLoss` term instead.)
 */
export class EnsembleTeacher<TBatch> implements WhiteBoxTeacher<TBatch, GpuTensor> {
  readonly kind = 'white-box' as const;
  readonly name: string;
  readonly vocabSize: number;
  readonly #teachers: readonly WhiteBoxTeacher<TBatch, GpuTensor>[];
  readonly #weights: readonly number[];
  readonly #temperature: number;

  constructor({ teachers, weights, temperature }: EnsembleOptions<TBatch>) {
    if (teachers.length === 0) throw badValue('teachers', [], 'at least one teacher');
    const vocab = teachers[0]!.vocabSize;
    teachers.forEach((t, i) => {
      if (t.vocabSize !== vocab) {
        throw new DistilleryError('E_SHAPE_MISMATCH', `teachers[${i}].vocabSize is ${t.vocabSize}, teachers[0] has ${vocab}`, {
          field: `teachers[${i}].vocabSize`,
          value: t.vocabSize,
        });
      }
    });
    this.#weights = weights ?? teachers.map(() => 1);
    if (this.#weights.length !== teachers.length) throw badValue('weights.length', this.#weights.length, `${teachers.length}`);
    this.#teachers = teachers;
    this.#temperature = requirePositive('temperature', temperature);
    this.vocabSize = vocab;
    this.name = `ensemble(${teachers.map((t) => t.name).join(', ')})`;
  }

  async targets(batch: TBatch): Promise<TeacherTargets<GpuTensor>> {
    const members = await Promise.all(this.#teachers.map((t) => t.targets(batch)));
    const logits = members.map((m, i) => {
      if (m.kind !== 'dense')
        throw new DistilleryError(
          'E_UNSUPPORTED',
          `ensemble member ${this.#teachers[i]!.name} gives ${m.kind} targets; mixtures need dense logits`,
          { field: `teachers[${i}]` },
        );
      return m.logits;
    });
    return { kind: 'dense', logits: await mixtureLogits(logits, this.#weights, this.#temperature) };
  }
}
