import { isAbsolute, resolve } from 'node:path';
import { DistilleryError, type PluginContext } from '@distillery/core';
import type { ClassificationData } from '@distillery/white-box';
import type { CliIO } from '../command.js';

/** What the `distill` runner hands every plugin it creates (beside `registry`). */
export interface DistillContext {
  device: GPUDevice;
  /** Folder of the config file: relative paths in the config resolve against it. */
  configDir: string;
  /** The run folder (checkpoints, logs, exported student). */
  runDir: string;
  io: CliIO;
  seed: number;
  /** The training data, once the dataset plugins have run (students and teachers size themselves from it). */
  train?: ClassificationData;
  validation?: ClassificationData;
}

export function distillContext(context: PluginContext): DistillContext & PluginContext {
  if (!context.device || typeof context.configDir !== 'string') {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      'this plugin runs inside `distillery distill` (it needs the run context: device, configDir, runDir)',
      { field: 'context' },
    );
  }
  return context as unknown as DistillContext & PluginContext;
}

/** A path from the config: absolute as written, else relative to the config file's folder. */
export const inConfigDir = (context: Pick<DistillContext, 'configDir'>, path: string): string =>
  isAbsolute(path) ? path : resolve(context.configDir, path);
