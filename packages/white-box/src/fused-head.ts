import {
  DistilleryError,
  requireInteger,
  shapeMismatch,
  type BackwardOptions,
  type Loss,
  type LossInputs,
  type LossOutput,
  type ModelState,
  type Parameter,
  type Student,
} from '@distillery/core';
import { KdLoss, type KdLossConfig } from '@distillery/kernels';
import { recordAddInPlace } from '@distillery/nn';
import { CommandRecorder, createTensor, zerosTensor, type GpuTensor } from '@distillery/webgpu';
import { fusedLinearKdLoss } from './fused-linear-kd.js';

/**
 * A model whose output layer is a bias-free linear head over its last hidden states, and which can
 * run without it: nn's `TransformerLm` is one.
 */
export interface FusedHeadModel<TBatch> extends Student<TBatch, GpuTensor> {
  /** `[vocab, width]`: logits = hidden · Wᵀ. */
  readonly headWeight: Parameter<GpuTensor>;
  /** The forward up to the head's input `[rows, width]`, no logits allocated. */
  forwardHidden(batch: TBatch, options: { training: boolean }): Promise<GpuTensor>;
  /** Gradients of every parameter but the head from d loss / d hidden. */
  backwardFromHidden(gradHidden: GpuTensor, options?: BackwardOptions<GpuTensor>): Promise<void>;
}

export function isFusedHeadModel<TBatch>(model: Student<TBatch, GpuTensor>): model is FusedHeadModel<TBatch> {
  const m = model as Partial<FusedHeadModel<TBatch>>;
  return typeof m.forwardHidden === 'function' && typeof m.backwardFromHidden === 'function' && m.headWeight !== undefined;
}

/**
 * The student side of the fused linear + KD training path: a `Student` whose `forward` returns
 * the model's last hidden states (in both modes) instead of logits, for a `FusedLinearKdLoss`
 * built on it, which applies the head chunk by chunk. Parameters, state and hidden states are the
 * model's, so checkpoints and optimiser state are interchangeable with training the model directly;
 * evaluate with the model itself (its `forward` gives logits).
 */
export class FusedHeadStudent<TBatch> implements Student<TBatch, GpuTensor> {
  readonly name: string;
  readonly vocabSize: number;
  readonly hiddenStateWidths?: () => Readonly<Record<string, number>>;
  readonly hiddenStates?: (names: readonly string[], mode: { training: boolean }) => Record<string, GpuTensor>;
  /** The head's gradient from the last loss, held until `backward`: the loop zeroes gradients between the two. */
  #pendingHeadGrad: GpuTensor | undefined;

  constructor(readonly model: FusedHeadModel<TBatch>) {
    if (!isFusedHeadModel(model)) {
      throw new DistilleryError(
        'E_UNSUPPORTED',
        `model ${(model as Student).name} cannot run without its output head (forwardHidden / backwardFromHidden / headWeight)`,
        {
          field: 'student',
          value: (model as Student).name,
        },
      );
    }
    this.name = model.name;
    this.vocabSize = model.vocabSize;
    const head = model.headWeight.value.shape;
    if (head.length !== 2 || head[0] !== model.vocabSize) throw shapeMismatch('student.headWeight', head, `[${model.vocabSize}, width]`);
    if (model.hiddenStateWidths && model.hiddenStates) {
      this.hiddenStateWidths = () => model.hiddenStateWidths!();
      this.hiddenStates = (names, mode) => model.hiddenStates!(names, mode);
    }
  }

  get headWeight(): Parameter<GpuTensor> {
    return this.model.headWeight;
  }

  /** The head's input `[rows, width]`, not logits. */
  forward(batch: TBatch, options: { training: boolean }): Promise<GpuTensor> {
    return this.model.forwardHidden(batch, options);
  }

  /**
   * A zeroed `[vocab, width]` buffer for the loss to accumulate the head's gradient into; the next
   * `backward` adds it to `headWeight.grad` and releases it.
   */
  headGradient(): GpuTensor {
    this.#dropPending();
    const [vocab, width] = this.headWeight.value.shape as [number, number];
    this.#pendingHeadGrad = zerosTensor(this.headWeight.value.device, { shape: [vocab, width], dtype: 'f32', label: 'fused-head-grad' });
    return this.#pendingHeadGrad;
  }

  /** `gradHidden`: d loss / d hidden states, the `gradLogits` of a `FusedLinearKdLoss` on this student. */
  async backward(gradHidden: GpuTensor, options?: BackwardOptions<GpuTensor>): Promise<void> {
    const pending = this.#pendingHeadGrad;
    if (!pending) {
      // Without it the head would silently get no gradient.
      throw new DistilleryError(
        'E_BAD_VALUE',
        `${this.name}: backward without a head gradient; compute the loss with a FusedLinearKdLoss on this student first`,
        { field: 'loss' },
      );
    }
    this.#pendingHeadGrad = undefined;
    try {
      const recorder = new CommandRecorder(pending.device, 'fused-head-grad');
      recordAddInPlace(recorder, pending, this.headWeight.grad);
      await recorder.submit();
    } finally {
      pending.release();
    }
    await this.model.backwardFromHidden(gradHidden, options);
  }

  parameters(): readonly Parameter<GpuTensor>[] {
    return this.model.parameters();
  }

  zeroGrad(): Promise<void> | void {
    return this.model.zeroGrad();
  }

  saveState(): Promise<ModelState> {
    return this.model.saveState();
  }

  loadState(state: ModelState): Promise<void> {
    this.#dropPending();
    return this.model.loadState(state);
  }

  #dropPending(): void {
    this.#pendingHeadGrad?.release();
    this.#pendingHeadGrad = undefined;
  }
}

/** `KdLoss`'s settings (but the gradient dtype: the head's gradient is f32) plus the chunking of `fusedLinearKdLoss`. */
export interface FusedLinearKdLossConfig extends Omit<KdLossConfig, 'gradDtype' | 'keepOutputs'> {
  /** Rows per chunk; default from `chunkBytes`. */
  chunkRows?: number;
  /** Budget for one chunk's logits (default 16 MiB). */
  chunkBytes?: number;
}

/**
 * Core's `Loss` contract over `fusedLinearKdLoss`, for a `FusedHeadStudent`: `studentLogits` are
 * the student's hidden states `[rows, width]`, the student's head is applied chunk by chunk, and
 * `gradLogits` is d loss / d hidden `[rows, width]`. The head's gradient goes to the student, which
 * adds it in its `backward`. Hyper-parameters, defaults and terms (`soft`, `hard`) as `KdLoss`;
 * `rowWeights` are refused (`E_UNSUPPORTED`), never ignored.
 */
export class FusedLinearKdLoss implements Loss<GpuTensor> {
  readonly name = 'fused-linear-kd';
  readonly hyperDefaults: KdLoss['hyperDefaults'];
  readonly config: Readonly<FusedLinearKdLossConfig>;
  #previous: GpuTensor[] = [];

  constructor(
    readonly student: FusedHeadStudent<unknown>,
    config: FusedLinearKdLossConfig = {},
  ) {
    const { chunkRows, chunkBytes, ...kd } = config;
    // KdLoss validates the shared settings exactly as the unfused path does.
    this.hyperDefaults = new KdLoss(kd).hyperDefaults;
    if (chunkRows !== undefined) requireInteger('chunkRows', chunkRows, 1);
    if (chunkBytes !== undefined) requireInteger('chunkBytes', chunkBytes, 1);
    this.config = Object.freeze({ ...config });
  }

  async compute(inputs: LossInputs<GpuTensor>): Promise<LossOutput<GpuTensor>> {
    if (inputs.rowWeights !== undefined) {
      throw new DistilleryError(
        'E_UNSUPPORTED',
        `${this.name} does not apply rowWeights (got [${inputs.rowWeights.shape.join(', ')}]); train with the unfused KdLoss`,
        {
          field: 'rowWeights',
          value: [...inputs.rowWeights.shape],
        },
      );
    }
    for (const t of this.#previous.splice(0)) t.release();
    const hidden = inputs.studentLogits;
    const weight = this.student.headWeight.value;
    const [vocab, width] = weight.shape as [number, number];
    if (hidden.shape.length !== 2 || hidden.shape[1] !== width)
      throw shapeMismatch(
        'studentLogits',
        hidden.shape,
        `[rows, ${width}]: the student's hidden states (the head is [${vocab}, ${width}])`,
      );
    const rows = hidden.shape[0]!;
    const t = inputs.targets;
    if (t?.kind === 'dense' && t.logits.shape[1] !== vocab && (this.config.vocabMismatch ?? 'error') === 'error') {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `targets.logits has a vocabulary of ${t.logits.shape[1]}, the student's head of ${vocab}; pass vocabMismatch 'truncate' or 'mask'`,
        {
          field: 'targets.logits',
          value: [...t.logits.shape],
          expected: `[${rows}, ${vocab}]`,
        },
      );
    }
    const h = { ...this.hyperDefaults, ...inputs.hyper };
    const { chunkRows, chunkBytes, temperature: _t, softWeight: _s, hardWeight: _h, beta: _b, check: _c, ...fixed } = this.config;
    const device = hidden.device;
    const row = (label: string) => createTensor(device, { shape: [rows], dtype: 'f32', label });
    const gradHidden = createTensor(device, { shape: [rows, width], dtype: 'f32', label: 'fused-grad-hidden' });
    const perRow = { total: row('fused-kd:total'), soft: row('fused-kd:soft'), hard: row('fused-kd:hard') };
    const outputs = [gradHidden, perRow.total, perRow.soft, perRow.hard];
    try {
      const result = await fusedLinearKdLoss({
        hidden,
        weight,
        teacher: t,
        labels: inputs.labels,
        kd: { ...fixed, temperature: h.temperature, softWeight: h.softWeight, hardWeight: h.hardWeight, beta: h.beta },
        normalizer: inputs.normalizer,
        gradHidden,
        gradWeight: this.student.headGradient(),
        chunkRows,
        chunkBytes,
        perRow,
      });
      this.#previous = outputs;
      const terms: LossOutput<GpuTensor>['terms'] = {};
      for (const [name, value] of Object.entries(result.terms))
        terms[name] = { perRow: perRow[name as 'soft' | 'hard'], reduced: async () => value };
      return { total: async () => result.total, terms, gradLogits: gradHidden, rows: async () => result.rows };
    } catch (error) {
      for (const o of outputs) o.release();
      throw error;
    }
  }
}
