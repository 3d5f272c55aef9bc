import * as z from 'zod/mini';
import { earlyStopping, earlyStoppingSchema, type TrainingCallback } from './callbacks.js';
import { definePlugin, PluginRegistry, type PluginSpec } from './registry.js';
import { constant, constantSchema, cosine, linear, rampSchema, stepDecay, stepDecaySchema, warmup, type Scheduler } from './schedulers.js';

const constantPlugin = definePlugin({
  kind: 'scheduler',
  name: 'constant',
  description: 'The same value at every step.',
  configSchema: constantSchema,
  create: ({ value }): Scheduler => constant(value),
});

const linearPlugin = definePlugin({
  kind: 'scheduler',
  name: 'linear',
  description: 'Straight line from `from` to `to` over `steps` (default: the whole run).',
  configSchema: rampSchema,
  create: (config): Scheduler => linear(config),
});

const cosinePlugin = definePlugin({
  kind: 'scheduler',
  name: 'cosine',
  description: 'Half-cosine from `from` to `to` over `steps` (default: the whole run).',
  configSchema: rampSchema,
  create: (config): Scheduler => cosine(config),
});

const stepPlugin = definePlugin({
  kind: 'scheduler',
  name: 'step',
  description: '`initial · gamma^k` after k milestones (or every `every` steps).',
  configSchema: stepDecaySchema,
  create: (config): Scheduler => stepDecay(config),
});

const warmupSchema = z.strictObject({
  steps: z.number().check(z.int(), z.positive()),
  from: z.optional(z.number()),
  then: z.union([z.string(), z.looseObject({ name: z.string() })]),
});

const warmupPlugin = definePlugin({
  kind: 'scheduler',
  name: 'warmup',
  description: 'Linear warm-up over `steps`, then the scheduler `then`.',
  configSchema: warmupSchema,
  create: async (config, { registry }): Promise<Scheduler> => {
    const then = await registry.create<Scheduler>('scheduler', config.then as PluginSpec, { path: 'then' });
    return warmup({ steps: config.steps, from: config.from, then });
  },
});

export const builtinSchedulerPlugins = [constantPlugin, linearPlugin, cosinePlugin, stepPlugin, warmupPlugin];

const earlyStoppingPlugin = definePlugin({
  kind: 'callback',
  name: 'early-stopping',
  description: 'Stops the run when an evaluation metric has not improved for `patience` evaluations; stays stopped on rerun.',
  configSchema: earlyStoppingSchema,
  create: (config): TrainingCallback => earlyStopping(config),
});

export const builtinCallbackPlugins = [earlyStoppingPlugin];

/** A registry holding Distillery's built-in plugins; packages add theirs with `register`. */
export function createRegistry(): PluginRegistry {
  return new PluginRegistry().register(...builtinSchedulerPlugins, ...builtinCallbackPlugins);
}
