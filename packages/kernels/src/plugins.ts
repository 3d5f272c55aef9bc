import { definePlugin } from '@distillery/core';
import { z } from 'zod';
import { CrossEntropyLoss, KdLoss } from './loss.js';

const kdConfigSchema = z
  .object({
    divergence: z.enum(['forward-kl', 'reverse-kl', 'jsd']).optional(),
    temperature: z.number().positive().optional(),
    softWeight: z.number().nonnegative().optional(),
    hardWeight: z.number().nonnegative().optional(),
    beta: z.number().min(0).max(1).optional(),
    jsdNormalized: z.boolean().optional(),
    scaleByTemperatureSquared: z.boolean().optional(),
    ignoreIndex: z.number().int().optional(),
    tail: z.enum(['ignore', 'bucket']).optional(),
    vocabMismatch: z.enum(['error', 'truncate', 'mask']).optional(),
    gradDtype: z.enum(['f32', 'f16']).optional(),
    keepOutputs: z.boolean().optional(),
  })
  .strict();

const crossEntropyConfigSchema = z
  .object({
    weight: z.number().nonnegative().optional(),
    ignoreIndex: z.number().int().optional(),
    gradDtype: z.enum(['f32', 'f16']).optional(),
    keepOutputs: z.boolean().optional(),
  })
  .strict();

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
