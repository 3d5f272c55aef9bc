/**
 * The Node half of device acquisition: loads the `webgpu` package (Dawn), an optional peer.
 * It lives in its own module because bundlers must never see `import('webgpu')` in a page: the
 * built package reaches it through the `#node-gpu` import map in package.json, whose `browser`
 * (and default) target is `node-gpu.browser.ts`.
 */
import { DistilleryError } from '@distillery/core';
import { NODE_NO_ADAPTER_HELP } from './no-adapter-help.js';

const dawnGpuCache = new Map<string, Promise<GPU>>();

/** Creates (once per flag set) a Dawn GPU object through the `webgpu` package. */
export function loadNodeGpu(flags: readonly string[]): Promise<GPU> {
  const key = flags.join('\n');
  let pending = dawnGpuCache.get(key);
  if (!pending) {
    pending = (async () => {
      let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
      try {
        mod = (await import('webgpu')) as never;
      } catch (error) {
        throw new DistilleryError(
          'E_NO_ADAPTER',
          `${NODE_NO_ADAPTER_HELP}\nThe \`webgpu\` package could not be loaded (${(error as Error).message}); install it: npm install webgpu`,
          {},
          { cause: error },
        );
      }
      // WebGPU's enum-like globals (GPUBufferUsage...) must exist before any buffer is made.
      Object.assign(globalThis, mod.globals);
      return mod.create([...flags]);
    })();
    dawnGpuCache.set(key, pending);
  }
  return pending;
}
