import {
  badValue,
  DistilleryError,
  requireNonNegative,
  shapeMismatch,
  type HiddenLoss,
  type HiddenLossInputs,
  type HiddenLossOutput,
  type HiddenStateWidths,
  type HostTensor,
  type Parameter,
} from '@distillery/core';
import { ParameterSet, recordAddInPlace, recordBiasGrad, recordMatmul } from '@distillery/nn';
import { CommandRecorder, createTensor, readFloat32, type GpuTensor } from '@distillery/webgpu';
import { HIDDEN_MATCH_LOSSES, recordHiddenMatch } from './kernels/hidden-match/hidden-match.js';
import type { HiddenMatchLoss } from './kernels/hidden-match/hidden-match.wgsl.js';

/** One student/teacher hidden-state pair to match. */
export interface HiddenPair {
  /** Student hidden-state name, e.g. `hidden.1` (MLP) or `blocks.0` (transformer). */
  student: string;
  /** Teacher hidden-state name. */
  teacher: string;
  /** Default `mse`. */
  loss?: HiddenMatchLoss;
  /** Default 1; schedulable as the hyper-parameter `<name>:weight`. */
  weight?: number;
  /** Learn a linear map (weight + bias) from the student's width to the teacher's. Required when the widths differ. */
  projection?: boolean;
  /** The term's name in step events; default `<student>-><teacher>`. */
  name?: string;
}

export interface HiddenStateMatchOptions {
  /** The device the student lives on: projections are created there. */
  device: GPUDevice;
  pairs: readonly HiddenPair[];
  /** Seeds the projections' initialisation (each from `deriveSeed(seed, parameter name)`). */
  seed?: number;
}

interface ResolvedPair {
  student: string;
  teacher: string;
  loss: HiddenMatchLoss;
  name: string;
  weightKey: string;
  projection: boolean;
}

interface Bound {
  studentWidths: HiddenStateWidths;
  teacherWidths: HiddenStateWidths;
  projections: ({ weight: Parameter<GpuTensor>; bias: Parameter<GpuTensor> } | undefined)[];
}

function unknownLayer(field: string, side: 'student' | 'teacher', name: string, widths: HiddenStateWidths): DistilleryError {
  const known = Object.keys(widths);
  return new DistilleryError(
    'E_BAD_VALUE',
    `${field} is ${JSON.stringify(name)}, which the ${side} does not expose; its hidden states are ${known.length ? known.join(', ') : 'none'}`,
    {
      field,
      value: name,
      expected: `one of ${known.join(', ')}`,
      known,
    },
  );
}

/**
 * Hidden-state matching (FitNets-style hints) as a `HiddenLoss` for core's `Distiller`: for each
 * pair, weight · mean over rows of ℓ(P h_s, h_t), where h_s is the student's state `[rows, d_s]`,
 * h_t the teacher's `[rows, d_t]`, P an optional learned projection `d_s → d_t` (identity without),
 * and ℓ is `mse`: ‖P h_s − h_t‖² / d_t, or `cosine`: 1 − cos(P h_s, h_t). The teacher's states get
 * no gradient. Forward and gradient run in WGSL (the hidden-match kernel plus nn's matmuls).
 */
export class HiddenStateMatch implements HiddenLoss<GpuTensor> {
  readonly name = 'hidden-state-match';
  readonly studentLayers: readonly string[];
  readonly teacherLayers: readonly string[];
  readonly hyperDefaults: Readonly<Record<string, number>>;
  readonly device: GPUDevice;
  readonly #pairs: readonly ResolvedPair[];
  readonly #params: ParameterSet;
  #bound: Bound | undefined;
  #previous: GpuTensor[] = [];

  constructor({ device, pairs, seed = 0 }: HiddenStateMatchOptions) {
    if (!Array.isArray(pairs) || pairs.length === 0) throw badValue('pairs', pairs, 'at least one { student, teacher } pair');
    const defaults: Record<string, number> = {};
    const names = new Set<string>();
    this.#pairs = pairs.map((pair, i) => {
      for (const side of ['student', 'teacher'] as const) {
        if (typeof pair[side] !== 'string' || pair[side].length === 0)
          throw badValue(`pairs[${i}].${side}`, pair[side], 'a hidden-state name');
      }
      const loss = pair.loss ?? 'mse';
      if (!HIDDEN_MATCH_LOSSES.includes(loss)) throw badValue(`pairs[${i}].loss`, loss, `one of ${HIDDEN_MATCH_LOSSES.join(', ')}`);
      const name = pair.name ?? `${pair.student}->${pair.teacher}`;
      if (names.has(name)) throw badValue(`pairs[${i}].name`, name, 'a name no other pair has');
      names.add(name);
      const weightKey = `${name}:weight`;
      defaults[weightKey] = requireNonNegative(`pairs[${i}].weight`, pair.weight ?? 1);
      return { student: pair.student, teacher: pair.teacher, loss, name, weightKey, projection: pair.projection ?? false };
    });
    this.hyperDefaults = Object.freeze(defaults);
    this.studentLayers = [...new Set(this.#pairs.map((p) => p.student))];
    this.teacherLayers = [...new Set(this.#pairs.map((p) => p.teacher))];
    this.device = device;
    this.#params = new ParameterSet(device, seed);
  }

  /** Term names (as in step events), in pair order. */
  get termNames(): readonly string[] {
    return this.#pairs.map((p) => p.name);
  }

  bind({ student, teacher }: { student: HiddenStateWidths; teacher: HiddenStateWidths }): void {
    this.#pairs.forEach((pair, i) => {
      const ds = student[pair.student];
      const dt = teacher[pair.teacher];
      if (ds === undefined) throw unknownLayer(`pairs[${i}].student`, 'student', pair.student, student);
      if (dt === undefined) throw unknownLayer(`pairs[${i}].teacher`, 'teacher', pair.teacher, teacher);
      if (ds !== dt && !pair.projection) {
        throw new DistilleryError(
          'E_SHAPE_MISMATCH',
          `pairs[${i}].projection is ${pair.projection}, but student ${pair.student} has width ${ds} and teacher ${pair.teacher} width ${dt}; set projection: true to learn a ${ds} → ${dt} map`,
          {
            field: `pairs[${i}].projection`,
            value: pair.projection,
            expected: 'true (the widths differ)',
            studentWidth: ds,
            teacherWidth: dt,
          },
        );
      }
    });
    if (this.#bound) {
      // Bound already (another loop over the same models): the projections keep their trained values.
      const same = this.#pairs.every(
        (p) => this.#bound!.studentWidths[p.student] === student[p.student] && this.#bound!.teacherWidths[p.teacher] === teacher[p.teacher],
      );
      if (!same)
        throw new DistilleryError('E_SHAPE_MISMATCH', 'HiddenStateMatch is already bound to models with other hidden widths', {
          field: 'bind',
        });
      return;
    }
    const projections = this.#pairs.map((pair) => {
      if (!pair.projection) return undefined;
      const ds = student[pair.student]!;
      const dt = teacher[pair.teacher]!;
      // torch.nn.Linear's default range U(−1/√fan_in, 1/√fan_in), zero bias.
      return {
        weight: this.#params.add(`${pair.name}.projection.weight`, [dt, ds], { kind: 'uniform', bound: 1 / Math.sqrt(ds) }),
        bias: this.#params.add(`${pair.name}.projection.bias`, [dt], { kind: 'constant', value: 0 }),
      };
    });
    this.#bound = { studentWidths: { ...student }, teacherWidths: { ...teacher }, projections };
  }

  #requireBound(): Bound {
    if (!this.#bound)
      throw new DistilleryError('E_BAD_VALUE', 'HiddenStateMatch is not bound to a student and a teacher yet (the Distiller binds it)', {
        field: 'bind',
      });
    return this.#bound;
  }

  parameters(): readonly Parameter<GpuTensor>[] {
    return this.#params.list;
  }

  zeroGrad(): void {
    if (this.#params.list.length) this.#params.zeroGrad();
  }

  async compute({ student, teacher, hyper }: HiddenLossInputs<GpuTensor>): Promise<HiddenLossOutput<GpuTensor>> {
    const bound = this.#requireBound();
    // The loop has consumed the previous step's gradients by now.
    for (const t of this.#previous.splice(0)) t.release();
    const rows = this.#rows(student, teacher, bound);
    const device = this.device;
    const recorder = new CommandRecorder(device, 'hidden-state-match');
    const make = (shape: number[], label: string) => {
      const t = createTensor(device, { shape, dtype: 'f32', label });
      this.#previous.push(t);
      return t;
    };
    const gradHidden: Record<string, GpuTensor> = {};
    const perRows: GpuTensor[] = [];
    const weights: number[] = [];
    this.#pairs.forEach((pair, i) => {
      const weight = hyper[pair.weightKey] ?? this.hyperDefaults[pair.weightKey]!;
      requireNonNegative(`hyper["${pair.weightKey}"]`, weight);
      weights.push(weight);
      const hs = student[pair.student]!;
      const ht = teacher[pair.teacher]!;
      const ds = bound.studentWidths[pair.student]!;
      const dt = bound.teacherWidths[pair.teacher]!;
      const projection = bound.projections[i];
      let predicted = hs;
      if (projection) {
        predicted = make([rows, dt], `${pair.name}:projected`);
        recordMatmul(recorder, hs, projection.weight.value, predicted, { transB: true, bias: projection.bias.value });
      }
      const perRow = make([rows], `${pair.name}:per-row`);
      const gradPredicted = make([rows, dt], `${pair.name}:grad-predicted`);
      recordHiddenMatch(recorder, { predicted, target: ht, loss: pair.loss, scale: weight / rows, perRow, grad: gradPredicted });
      perRows.push(perRow);
      let gradStudent = gradPredicted;
      if (projection) {
        recordMatmul(recorder, gradPredicted, hs, projection.weight.grad, { transA: true, accumulate: true });
        recordBiasGrad(recorder, gradPredicted, projection.bias.grad, { accumulate: true });
        gradStudent = make([rows, ds], `${pair.name}:grad-student`);
        recordMatmul(recorder, gradPredicted, projection.weight.value, gradStudent);
      }
      // Two pairs on one student state: their gradients add up.
      if (gradHidden[pair.student]) recordAddInPlace(recorder, gradStudent, gradHidden[pair.student]!);
      else gradHidden[pair.student] = gradStudent;
    });
    await recorder.submit();
    const terms: Record<string, () => Promise<number>> = {};
    this.#pairs.forEach((pair, i) => {
      let value: Promise<number> | undefined;
      // Σ in float64 on the host: rows is small next to the hidden states themselves.
      terms[pair.name] = () => (value ??= readFloat32(perRows[i]!).then((per) => (weights[i]! * per.reduce((a, b) => a + b, 0)) / rows));
    });
    const total = async () => {
      let sum = 0;
      for (const term of Object.values(terms)) sum += await term();
      return sum;
    };
    return { total, terms, gradHidden };
  }

  #rows(student: Readonly<Record<string, GpuTensor>>, teacher: Readonly<Record<string, GpuTensor>>, bound: Bound): number {
    let rows: number | undefined;
    const check = (side: 'student' | 'teacher', name: string, t: GpuTensor | undefined, width: number) => {
      const field = `${side}[${JSON.stringify(name)}]`;
      if (!t) throw badValue(field, undefined, `the ${side} hidden state ${name}`);
      if (t.dtype !== 'f32') throw badValue(`${field}.dtype`, t.dtype, 'f32');
      rows ??= t.shape[0];
      if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== width) throw shapeMismatch(field, t.shape, `[${rows}, ${width}]`);
    };
    for (const pair of this.#pairs) {
      check('student', pair.student, student[pair.student], bound.studentWidths[pair.student]!);
      check('teacher', pair.teacher, teacher[pair.teacher], bound.teacherWidths[pair.teacher]!);
    }
    return rows!;
  }

  async saveState(): Promise<Record<string, HostTensor>> {
    return this.#params.toHost();
  }

  async loadState(tensors: Record<string, HostTensor>): Promise<void> {
    this.#requireBound();
    this.#params.fromHost(tensors, 'hidden-state-match state');
  }

  /** Frees the projections and the last step's buffers. */
  release(): void {
    for (const t of this.#previous.splice(0)) t.release();
    this.#params.release();
  }
}
