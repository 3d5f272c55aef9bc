import { basename } from 'node:path';
import {
  earlyStopping,
  type PluginRegistry,
  type PluginSpec,
  type Scheduler,
  type SchedulerLike,
  type TrainingCallback,
} from '@distillery/core';
import type { AdapterSummary } from '@distillery/webgpu';
import type { CliIO } from '../command.js';
import type { DistillConfig } from './config.js';
import { metricsLog } from './logs.js';
import { progressCallback } from './progress.js';

/*
 * What the classifier runner (run.ts) and the language-model runner (run-lm.ts) build the same way
 * from a config: schedules, the optimiser, the callbacks.
 */

/** "vendor architecture device (backend)", as the demo has always printed it. */
export function adapterName(info: AdapterSummary): string {
  return `${[info.vendor, info.architecture, info.device].filter(Boolean).join(' ')} (${info.backend})`;
}

const toSpec = (value: SchedulerLike | PluginSpec): SchedulerLike | PluginSpec => value;

/** A hyper-parameter of the config: a number, or a scheduler plugin resolved at `path`. */
export async function schedule(registry: PluginRegistry, value: number | PluginSpec, path: string): Promise<SchedulerLike> {
  return typeof value === 'number' ? value : registry.create<Scheduler>('scheduler', toSpec(value), { path });
}

/** The config's optimiser (its `lr` is a schedule, not an optimiser setting). */
export function createOptimizer<T>(registry: PluginRegistry, config: DistillConfig, context: Record<string, unknown>): Promise<T> {
  const { name, lr: _lr, ...settings } = config.optimizer;
  return registry.create<T>('optimizer', { name, ...settings }, { path: 'optimizer', context });
}

/** Progress on stderr, early stopping, the config's callback plugins and the metrics logs, in that order. */
export async function createCallbacks(
  registry: PluginRegistry,
  config: DistillConfig,
  o: { io: CliIO; runDir: string; configPath: string; context: Record<string, unknown>; progressEverySteps?: number },
): Promise<TrainingCallback[]> {
  const callbacks: TrainingCallback[] = [progressCallback(o.io, 'distill', { everySteps: o.progressEverySteps })];
  if (config.earlyStopping) callbacks.push(earlyStopping(config.earlyStopping));
  for (const [i, spec] of config.callbacks.entries())
    callbacks.push(await registry.create<TrainingCallback>('callback', spec, { path: `callbacks[${i}]`, context: o.context }));
  if (config.logs.metrics || config.logs.curves) callbacks.push(metricsLog(o.runDir, { ...config.logs, title: basename(o.configPath) }));
  return callbacks;
}
