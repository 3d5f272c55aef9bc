import {
  badValue,
  Distiller,
  requireInteger,
  type DataSource,
  DistilleryError,
  type CheckpointStore,
  type HiddenLoss,
  type Loss,
  type Optimizer,
  type RunSummary,
  type SchedulerLike,
  type Student,
  type TrainingCallback,
  type WhiteBoxTeacher,
} from '@distillery/core';
import { KdLoss } from '@distillery/kernels';
import type { LmBatch } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';
import { deviceOf } from '../evaluate.js';
import { FusedHeadStudent, FusedLinearKdLoss, isFusedHeadModel } from '../fused-head.js';
import { evaluateLanguageModel, type LanguageModelMetrics } from './evaluate-lm.js';
import { TokenWindows, type TokenCorpus, type WindowBatch } from './token-windows.js';

export interface LmDistillerOptions {
  /** Absent: plain next-token training of the student (the scratch baseline). Its batches carry their window ids (an offline cache reads by them). */
  teacher?: WhiteBoxTeacher<WindowBatch, GpuTensor>;
  /**
   * Default true: validation reports agreement with the teacher's top-1. False for a teacher that
   * answers for the training windows only (an offline cache of them).
   */
  teacherAgreement?: boolean;
  student: Student<LmBatch, GpuTensor>;
  /** A fused loss on logits, applied per token (e.g. `KdLoss` with `hardWeight` for the next-token term). */
  loss: Loss<GpuTensor>;
  /** Hidden-state matching added to `loss` (e.g. a `HiddenStateMatch` on `blocks.l` / `ln_f`). */
  hiddenLoss?: HiddenLoss<GpuTensor>;
  optimizer: Optimizer<GpuTensor>;
  /** The transfer set, tokenised with the student's (and teacher's) tokenizer. */
  train: TokenCorpus;
  /** Held-out text evaluated after every epoch. */
  validation?: TokenCorpus;
  /** Characters the validation corpus's predicted tokens span (for bits per character). */
  validationCharacters?: number;
  /** Tokens per sequence; default the student's `settings.context` (a `TransformerLm`'s). */
  context?: number;
  /** Sequences per batch. */
  sequences: number;
  /** Passes over the training windows (the ragged last batch of each is dropped). Exactly one of `epochs` and `steps`. */
  epochs?: number;
  /**
   * Exactly this many batches instead of whole epochs: batch i is batch `i mod n` of pass `⌊i / n⌋`
   * over the windows (n = batches per pass), so a short run need not see every window and a long
   * one cycles them in each pass's own shuffled order.
   */
  steps?: number;
  /** With `steps`: evaluate (and let callbacks stop the run) every this many steps; must divide `steps`. Default `steps` (once, at the end). */
  evaluateEverySteps?: number;
  seed: number;
  /** Label of padding; must equal the loss's. Default −100. */
  ignoreIndex?: number;
  /** `lr` plus the loss's and the hidden loss's hyper-parameters. */
  schedules: { lr: SchedulerLike } & Record<string, SchedulerLike>;
  checkpoint?: { store: CheckpointStore; everySteps?: number };
  /** Hooks awaited during the run (progress, logs, early stopping, best-model keeping); see core's `TrainingCallback`. */
  callbacks?: readonly TrainingCallback[];
  /**
   * Train through the fused linear + KD loss: the student's forward stops at its last hidden
   * states and `loss` (a `KdLoss`, whose settings are kept) applies the LM head chunk by chunk, so
   * no `[rows, vocab]` logits or gradient exist for the batch. Needs a student that can run
   * without its head (a `TransformerLm`). Evaluation still uses the student's logits.
   */
  fusedHead?: boolean | { chunkRows?: number; chunkBytes?: number };
}

function contextOf(options: LmDistillerOptions): number {
  const fromModel = (options.student as { settings?: { context?: unknown } }).settings?.context;
  const context = options.context ?? fromModel;
  if (typeof context !== 'number') throw badValue('context', context, "the sequence length (the student's context)");
  return context;
}

/**
 * The language-model distiller: core's `Distiller` over token windows (`sequences × context`
 * tokens per batch, labels = next tokens, padding labelled `ignoreIndex`), with the loss applied
 * per token and per-token evaluation (cross-entropy, perplexity, bits, agreement with the
 * teacher's top-1) after every epoch. A sibling of `WhiteBoxDistiller`, which trains on feature
 * rows; both share core's loop, the teachers and `HiddenStateMatch`.
 */
export class LmDistiller {
  readonly loop: Distiller<WindowBatch, GpuTensor>;
  readonly data: TokenWindows;
  /** The loss the loop trains with: `options.loss`, or with `fusedHead` the `FusedLinearKdLoss` built from it. */
  readonly loss: Loss<GpuTensor>;
  readonly #options: LmDistillerOptions;
  readonly #validation: TokenWindows | undefined;

  constructor(options: LmDistillerOptions) {
    this.#options = options;
    const device = deviceOf(options.student);
    const ignoreIndex = options.ignoreIndex ?? -100;
    if (options.loss instanceof KdLoss && (options.loss.config.ignoreIndex ?? -100) !== ignoreIndex) {
      throw badValue(
        'ignoreIndex',
        ignoreIndex,
        `the loss's ignoreIndex (${options.loss.config.ignoreIndex ?? -100}), or padding would be trained on`,
      );
    }
    const context = contextOf(options);
    const windows = { context, sequences: options.sequences, ignoreIndex };
    this.data = new TokenWindows(device, options.train, { ...windows, seed: options.seed });
    this.#validation = options.validation && new TokenWindows(device, options.validation, { ...windows, sequences: 1, seed: options.seed });
    const { student, loss } = options.fusedHead ? fusedPair(options) : options;
    this.loss = loss;
    const length = runLength(options, this.data);
    this.loop = new Distiller<WindowBatch, GpuTensor>({
      teacher: options.teacher,
      student,
      loss,
      hiddenLoss: options.hiddenLoss,
      optimizer: options.optimizer,
      data: length.data,
      labels: (batch) => batch.labels,
      epochs: length.epochs,
      schedules: options.schedules,
      checkpoint: options.checkpoint,
      callbacks: options.callbacks,
      evaluate: this.#validation ? async () => metricsRecord(await this.evaluate()) : undefined,
    });
  }

  /** Per-token metrics of the student on `corpus` (default: the validation set), with the teacher's agreement. */
  evaluate(corpus?: TokenCorpus, characters?: number): Promise<LanguageModelMetrics> {
    const o = this.#options;
    const data = corpus
      ? new TokenWindows(deviceOf(o.student), corpus, {
          context: this.data.context,
          sequences: 1,
          seed: o.seed,
          ignoreIndex: this.data.ignoreIndex,
        })
      : this.#validation;
    if (!data) throw badValue('corpus', corpus, 'a token corpus (no validation set was given)');
    return evaluateLanguageModel(o.student, data, {
      teacher: o.teacherAgreement === false ? undefined : (o.teacher as WhiteBoxTeacher<LmBatch, GpuTensor> | undefined),
      sequences: o.sequences,
      characters: corpus ? characters : o.validationCharacters,
    });
  }

  run(options?: { resume?: boolean }): Promise<RunSummary> {
    return this.loop.run(options);
  }

  stop(): void {
    this.loop.stop();
  }
}

/** `epochs` passes over the windows, or `steps` batches cut into `evaluateEverySteps`-long "epochs" of core's loop. */
function runLength(options: LmDistillerOptions, windows: TokenWindows): { data: DataSource<WindowBatch>; epochs: number } {
  const { epochs, steps } = options;
  if ((epochs === undefined) === (steps === undefined))
    throw badValue('steps', steps, `exactly one of epochs (${epochs}) and steps (the training length)`);
  if (epochs !== undefined) {
    if (options.evaluateEverySteps !== undefined)
      throw badValue('evaluateEverySteps', options.evaluateEverySteps, 'absent with epochs (evaluation follows every epoch)');
    return { data: windows, epochs };
  }
  const total = requireInteger('steps', steps!, 1);
  const every = requireInteger('evaluateEverySteps', options.evaluateEverySteps ?? total, 1, total);
  if (total % every !== 0) throw badValue('evaluateEverySteps', every, `a divisor of steps (${total})`);
  return { data: new StepBatches(windows, every), epochs: total / every };
}

/** Core's (epoch, index) over `chunk`-step "epochs" mapped to the windows' own (pass, batch). */
class StepBatches implements DataSource<WindowBatch> {
  constructor(
    readonly windows: TokenWindows,
    readonly batchesPerEpoch: number,
  ) {}

  batch(epoch: number, index: number): Promise<WindowBatch> {
    const step = epoch * this.batchesPerEpoch + index;
    const n = this.windows.batchesPerEpoch;
    return this.windows.batch(Math.floor(step / n), step % n);
  }
}

function fusedPair(options: LmDistillerOptions): { student: Student<LmBatch, GpuTensor>; loss: Loss<GpuTensor> } {
  const { loss, student } = options;
  if (!(loss instanceof KdLoss)) {
    throw new DistilleryError('E_UNSUPPORTED', `fusedHead needs a KdLoss (its settings drive the fused loss), got ${loss.name}`, {
      field: 'loss',
      value: loss.name,
      expected: 'a KdLoss',
    });
  }
  if (!isFusedHeadModel(student)) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `fusedHead needs a student that can run without its LM head (forwardHidden / backwardFromHidden / headWeight, as TransformerLm); ${student.name} cannot`,
      {
        field: 'student',
        value: student.name,
      },
    );
  }
  const { gradDtype, keepOutputs: _keep, ...kd } = loss.config;
  if (gradDtype !== undefined && gradDtype !== 'f32')
    throw badValue('loss.config.gradDtype', gradDtype, "'f32' with fusedHead (the fused path keeps its gradients in f32)");
  const chunks = typeof options.fusedHead === 'object' ? options.fusedHead : {};
  const fused = new FusedHeadStudent(student);
  return { student: fused, loss: new FusedLinearKdLoss(fused, { ...kd, chunkRows: chunks.chunkRows, chunkBytes: chunks.chunkBytes }) };
}

function metricsRecord(m: LanguageModelMetrics): Record<string, number> {
  const record: Record<string, number> = {
    crossEntropy: m.crossEntropy,
    perplexity: m.perplexity,
    bitsPerToken: m.bitsPerToken,
    tokens: m.tokens,
  };
  if (m.bitsPerCharacter !== undefined) record.bitsPerCharacter = m.bitsPerCharacter;
  if (m.teacherAgreement !== undefined) record.teacherAgreement = m.teacherAgreement;
  return record;
}
