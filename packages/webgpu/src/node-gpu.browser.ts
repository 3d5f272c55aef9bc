/**
 * What a page gets instead of `node-gpu.ts` (the `browser` target of `#node-gpu`): there is no
 * `webgpu` package to fall back on, so a missing `navigator.gpu` is reported with browser help.
 */
import { DistilleryError } from '@distillery/core';
import { browserNoAdapterHelp } from './no-adapter-help.js';

export function loadNodeGpu(_flags: readonly string[]): Promise<GPU> {
  return Promise.reject(new DistilleryError('E_NO_ADAPTER', browserNoAdapterHelp('no-navigator-gpu'), { reason: 'no-navigator-gpu' }));
}
