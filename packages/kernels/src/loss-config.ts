import * as z from 'zod/mini';

/*
 * The configs of the loss classes, written once as schemas: the `kd` / `cross-entropy` plugins
 * validate a config file with them, and `KdLossConfig` / `CrossEntropyLossConfig` (loss.ts) are
 * their input types, so a field added here is a field of the class.
 */

const floatDType = z.enum(['f32', 'f16']);

/** Fixed options of a `KdLoss` (what a config file may set); see `KdLossConfig`. */
export const kdLossConfigSchema = z.strictObject({
  /** Default 'forward-kl'. */
  divergence: z.optional(z.enum(['forward-kl', 'reverse-kl', 'jsd'])),
  /** Default of the `temperature` hyper-parameter (a step's `hyper` wins). Default 2 (`KD_LOSS_DEFAULTS`). */
  temperature: z.optional(z.number().check(z.positive())),
  /** Default of the `softWeight` hyper-parameter. Default 1. */
  softWeight: z.optional(z.number().check(z.nonnegative())),
  /** Default of the `hardWeight` hyper-parameter. Default 0 (with a one-time warning when labels come). */
  hardWeight: z.optional(z.number().check(z.nonnegative())),
  /** Default of the JSD's `beta` hyper-parameter, in [0, 1]. Default 0.5. */
  beta: z.optional(z.number().check(z.gte(0), z.lte(1))),
  jsdNormalized: z.optional(z.boolean()),
  scaleByTemperatureSquared: z.optional(z.boolean()),
  ignoreIndex: z.optional(z.number().check(z.int())),
  tail: z.optional(z.enum(['ignore', 'bucket'])),
  vocabMismatch: z.optional(z.enum(['error', 'truncate', 'mask'])),
  gradDtype: z.optional(floatDType),
  /**
   * Default false: each `compute` first releases the previous step's output (gradient, per-row
   * terms) back to the buffer pool, as a training loop has consumed it by then. True: you release them.
   */
  keepOutputs: z.optional(z.boolean()),
});

/** Fixed options of a `CrossEntropyLoss`; see `CrossEntropyLossConfig`. */
export const crossEntropyLossConfigSchema = z.strictObject({
  /** Default of the `weight` hyper-parameter. Default 1. */
  weight: z.optional(z.number().check(z.nonnegative())),
  ignoreIndex: z.optional(z.number().check(z.int())),
  gradDtype: z.optional(floatDType),
  /** See `KdLossConfig.keepOutputs`. */
  keepOutputs: z.optional(z.boolean()),
});
