import { badValue, requireNonNegative, requirePositive, type Loss, type LossInputs } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import { crossEntropy } from './kernels/cross-entropy/cross-entropy.js';
import { DIVERGENCES, kdLoss, TAIL_MODES, VOCAB_MISMATCH, type CheckMode, type RowLossResult } from './kernels/kd-loss/kd-loss.js';
import { requireOneOf } from './shared/validate.js';
import type * as z from 'zod/mini';
import type { crossEntropyLossConfigSchema, kdLossConfigSchema } from './loss-config.js';

/**
 * Fixed options of a `KdLoss`: the fields of `kdLossConfigSchema` (what a config file may set)
 * plus `check`. The hyper-parameters (temperature, weights, β) come from `inputs.hyper` per step;
 * these are their defaults.
 */
export type KdLossConfig = z.input<typeof kdLossConfigSchema> & {
  /** Default 'lazy': the Distiller reads `total()` (which checks the input flags) before the optimiser step. */
  check?: CheckMode;
};

/**
 * Core's `Loss` contract over the fused WGSL KD loss. Hyper-parameters (`temperature`,
 * `softWeight`, `hardWeight`, `beta`) are read from `inputs.hyper` each step, falling back to
 * `hyperDefaults`; `inputs.normalizer` and `inputs.rowWeights` go to the kernel as they are; the
 * rest is fixed at construction.
 *
 * Defaults: `temperature` 2, `softWeight` 1, `hardWeight` 0, `beta` 0.5, forward KL scaled by T².
 * The temperature differs from the `kdLoss` function's 1 on purpose: the function is the raw
 * kernel (no tempering unless asked), the class is a training loss, where T = 1 would make the
 * soft term plain KL (docs/kernels.md, "Defaults").
 * `hardWeight` 0 means labels are not trained on; Hinton et al. train on both terms, so a batch
 * that brings labels while `hardWeight` was never set (in the config or the step's `hyper`) raises
 * a one-time process warning (`DISTILLERY_KD_LABELS_IGNORED`). Set `hardWeight` — any value, 0
 * included — to say what you mean and silence it.
 */
export class KdLoss implements Loss<GpuTensor> {
  readonly name: string = 'kd';
  readonly hyperDefaults: Readonly<{ temperature: number; softWeight: number; hardWeight: number; beta: number }>;
  readonly config: Readonly<KdLossConfig>;

  constructor(config: KdLossConfig = {}) {
    if (config.divergence !== undefined) requireOneOf('divergence', config.divergence, DIVERGENCES);
    if (config.tail !== undefined) requireOneOf('tail', config.tail, TAIL_MODES);
    if (config.vocabMismatch !== undefined) requireOneOf('vocabMismatch', config.vocabMismatch, VOCAB_MISMATCH);
    const beta = config.beta ?? 0.5;
    if (!(Number.isFinite(beta) && beta >= 0 && beta <= 1)) throw badValue('beta', beta, 'a number in [0, 1]');
    this.hyperDefaults = Object.freeze({
      temperature: requirePositive('temperature', config.temperature ?? 2),
      softWeight: requireNonNegative('softWeight', config.softWeight ?? 1),
      hardWeight: requireNonNegative('hardWeight', config.hardWeight ?? 0),
      beta,
    });
    this.config = Object.freeze({ ...config });
  }

  #previous?: RowLossResult;
  #warnedLabelsIgnored = false;

  async compute(inputs: LossInputs<GpuTensor>): Promise<RowLossResult> {
    const h = { ...this.hyperDefaults, ...inputs.hyper };
    if (inputs.labels && this.config.hardWeight === undefined && inputs.hyper.hardWeight === undefined && !this.#warnedLabelsIgnored) {
      this.#warnedLabelsIgnored = true;
      warnLabelsIgnored();
    }
    if (!this.config.keepOutputs) this.#previous?.release();
    this.#previous = undefined;
    const result = await kdLoss({
      studentLogits: inputs.studentLogits,
      teacher: inputs.targets,
      labels: inputs.labels,
      divergence: this.config.divergence,
      beta: h.beta,
      jsdNormalized: this.config.jsdNormalized,
      temperature: h.temperature,
      softWeight: h.softWeight,
      hardWeight: h.hardWeight,
      scaleByTemperatureSquared: this.config.scaleByTemperatureSquared,
      ignoreIndex: this.config.ignoreIndex,
      normalizer: inputs.normalizer,
      rowWeights: inputs.rowWeights,
      tail: this.config.tail,
      vocabMismatch: this.config.vocabMismatch,
      gradDtype: this.config.gradDtype,
      check: this.config.check ?? 'lazy',
    });
    this.#previous = result;
    return result;
  }
}

function warnLabelsIgnored(): void {
  const message =
    'KdLoss got labels but hardWeight was never set, so it defaults to 0 and the labels are ignored (soft term only). ' +
    'Hinton et al. train on both terms: set hardWeight (e.g. new KdLoss({ hardWeight: 0.1 }) or schedules.hardWeight), or hardWeight: 0 for soft targets only.';
  const emit = (globalThis as { process?: { emitWarning?: (message: string, options: { code: string }) => void } }).process?.emitWarning;
  if (emit) emit(message, { code: 'DISTILLERY_KD_LABELS_IGNORED' });
  else console.warn(message);
}

/** Fixed options of a `CrossEntropyLoss`: the fields of `crossEntropyLossConfigSchema` plus `check`. */
export type CrossEntropyLossConfig = z.input<typeof crossEntropyLossConfigSchema> & { check?: CheckMode };

/** Core's `Loss` contract over the hard-label cross-entropy kernel (the supervised baseline); honours `inputs.rowWeights`. */
export class CrossEntropyLoss implements Loss<GpuTensor> {
  readonly name: string = 'cross-entropy';
  readonly hyperDefaults: Readonly<{ weight: number }>;
  readonly config: Readonly<CrossEntropyLossConfig>;

  constructor(config: CrossEntropyLossConfig = {}) {
    this.hyperDefaults = Object.freeze({ weight: requireNonNegative('weight', config.weight ?? 1) });
    this.config = Object.freeze({ ...config });
  }

  #previous?: RowLossResult;

  async compute(inputs: LossInputs<GpuTensor>): Promise<RowLossResult> {
    if (!inputs.labels) throw badValue('labels', inputs.labels, 'a [rows] i32 tensor (cross-entropy needs labels)');
    if (!this.config.keepOutputs) this.#previous?.release();
    this.#previous = undefined;
    const result = await crossEntropy({
      logits: inputs.studentLogits,
      labels: inputs.labels,
      ignoreIndex: this.config.ignoreIndex,
      normalizer: inputs.normalizer,
      rowWeights: inputs.rowWeights,
      weight: inputs.hyper.weight ?? this.hyperDefaults.weight,
      gradDtype: this.config.gradDtype,
      check: this.config.check ?? 'lazy',
    });
    this.#previous = result;
    return result;
  }
}
