import { definePlugin } from '@distillery/core';
import { CrossEntropyLoss, KdLoss } from './loss.js';
import { crossEntropyLossConfigSchema as crossEntropyConfigSchema, kdLossConfigSchema as kdConfigSchema } from './loss-config.js';

export const kdLossPlugin = definePlugin({
  kind: 'loss',
  name: 'kd',
  description:
    'Fused WGSL knowledge-distillation loss: forward/reverse KL or JSD(β) at temperature T, plus hard-label cross-entropy; dense or top-k teacher.',
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
