import { badValue, Distiller, type CheckpointStore, type HiddenLoss, type Loss, type Optimizer, type RunSummary, type Scheduler, type Student, type WhiteBoxTeacher } from '@distillery/core';
import { KdLoss } from '@distillery/kernels';
import type { LmBatch } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';
import { deviceOf } from '../evaluate.js';
import { evaluateLanguageModel, type LanguageModelMetrics } from './evaluate-lm.js';
import { TokenWindows, type TokenCorpus } from './token-windows.js';

export interface LmDistillerOptions {
  /** Absent: plain next-token training of the student (the scratch baseline). */
  teacher?: WhiteBoxTeacher<LmBatch, GpuTensor>;
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
  epochs: number;
  seed: number;
  /** Label of padding; must equal the loss's. Default −100. */
  ignoreIndex?: number;
  /** `lr` plus the loss's and the hidden loss's hyper-parameters. */
  schedules: { lr: Scheduler } & Record<string, Scheduler>;
  checkpoint?: { store: CheckpointStore; everySteps?: number };
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
  readonly loop: Distiller<LmBatch, GpuTensor>;
  readonly data: TokenWindows;
  readonly #options: LmDistillerOptions;
  readonly #validation: TokenWindows | undefined;

  constructor(options: LmDistillerOptions) {
    this.#options = options;
    const device = deviceOf(options.student);
    const ignoreIndex = options.ignoreIndex ?? -100;
    if (options.loss instanceof KdLoss && (options.loss.config.ignoreIndex ?? -100) !== ignoreIndex) {
      throw badValue('ignoreIndex', ignoreIndex, `the loss's ignoreIndex (${options.loss.config.ignoreIndex ?? -100}), or padding would be trained on`);
    }
    const context = contextOf(options);
    const windows = { context, sequences: options.sequences, ignoreIndex };
    this.data = new TokenWindows(device, options.train, { ...windows, seed: options.seed });
    this.#validation = options.validation && new TokenWindows(device, options.validation, { ...windows, sequences: 1, seed: options.seed });
    this.loop = new Distiller<LmBatch, GpuTensor>({
      teacher: options.teacher,
      student: options.student,
      loss: options.loss,
      hiddenLoss: options.hiddenLoss,
      optimizer: options.optimizer,
      data: this.data,
      labels: (batch) => batch.labels,
      epochs: options.epochs,
      schedules: options.schedules,
      checkpoint: options.checkpoint,
      evaluate: this.#validation ? async () => metricsRecord(await this.evaluate()) : undefined,
    });
  }

  /** Per-token metrics of the student on `corpus` (default: the validation set), with the teacher's agreement. */
  evaluate(corpus?: TokenCorpus, characters?: number): Promise<LanguageModelMetrics> {
    const o = this.#options;
    const data = corpus ? new TokenWindows(deviceOf(o.student), corpus, { context: this.data.context, sequences: 1, seed: o.seed, ignoreIndex: this.data.ignoreIndex }) : this.#validation;
    if (!data) throw badValue('corpus', corpus, 'a token corpus (no validation set was given)');
    return evaluateLanguageModel(o.student, data, { teacher: o.teacher, sequences: o.sequences, characters: corpus ? characters : o.validationCharacters });
  }

  run(options?: { resume?: boolean }): Promise<RunSummary> {
    return this.loop.run(options);
  }

  stop(): void {
    this.loop.stop();
  }
}

function metricsRecord(m: LanguageModelMetrics): Record<string, number> {
  const record: Record<string, number> = { crossEntropy: m.crossEntropy, perplexity: m.perplexity, bitsPerToken: m.bitsPerToken, tokens: m.tokens };
  if (m.bitsPerCharacter !== undefined) record.bitsPerCharacter = m.bitsPerCharacter;
  if (m.teacherAgreement !== undefined) record.teacherAgreement = m.teacherAgreement;
  return record;
}
