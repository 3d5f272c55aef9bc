import { definePlugin } from '@distillery/core';
import * as z from 'zod/mini';
import { CrossEntropyLoss, KdLoss } from './loss.js';

const kdConfigSchema = z.strictObject({
    divergence: z.optional(z.enum(['forward-kl', 'reverse-kl', 'jsd'])),
    temperature: z.optional(z.number().check(z.positive())),
    softWeight: z.optional(z.number().check(z.nonnegative())),
    hardWeight: z.optional(z.number().check(z.nonnegative())),
    beta: z.optional(z.number().check(z.gte(0), z.lte(1))),
    jsdNormalized: z.optional(z.boolean()),
    scaleByTemperatureSquared: z.optional(z.boolean()),
    ignoreIndex: z.optional(z.number().check(z.int())),
    tail: z.optional(z.enum(['ignore', 'bucket'])),
    vocabMismatch: z.optional(z.enum(['error', 'truncate', 'mask'])),
    gradDtype: z.optional(z.enum(['f32', 'f16'])),
    keepOutputs: z.optional(z.boolean()),
  });

const crossEntropyConfigSchema = z.strictObject({
    weight: z.optional(z.number().check(z.nonnegative())),
    ignoreIndex: z.optional(z.number().check(z.int())),
    gradDtype: z.optional(z.enum(['f32', 'f16'])),
    keepOutputs: z.optional(z.boolean()),
  });

export const kdLossPlugin = definePlugin({
  kind: 'loss',
  name: 'kd',
  description: 'Fused WGSL knowledge-distillation loss: forward/reverse KL or JSD(β) at temperature T, plus hard-label cross-entropy; dense or top-k teacher.',
  configSchema: kdConfigSchema,
  create: (config): KdLoss => new KdLoss(config),
});

export const crossEntropyPlugin = definePlugin({
  kind: 'loss',
  name: 'cross-entropy',
  description: 'Fused WGSL hard-label cross-entropy (the supervised baseline).',
  configSchema: crossEntropyConfigSchema,
  create: (config): CrossEntropyLoss => new CrossEntropyLoss(config),
});

/** The loss plugins of this package (`registry.loadPackage('@distillery/kernels')` registers them). */
export const plugins = [kdLossPlugin, crossEntropyPlugin];
