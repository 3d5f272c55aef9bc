import { getPipeline, type KernelProgram } from '@distillery/webgpu';
import { gpuTest } from '@distillery/webgpu/testing';
import { describe, expect, it } from 'vitest';

/** File name of a variant's snapshot: the program name and the variant's values. */
export function snapshotName<V extends object>(program: KernelProgram<V>, variant: V): string {
  const parts = Object.entries(variant)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => (typeof v === 'boolean' ? (v ? k : `no-${k}`) : `${k}-${String(v)}`));
  return `${program.name}.${parts.join('.')}.wgsl`;
}

/**
 * One committed WGSL file per variant (so a template change shows up in review), and every
 * variant compiles on the test device (f16 variants where the adapter has shader-f16).
 */
export function wgslSnapshots<V extends object>(dir: string, program: KernelProgram<V>, variants: readonly V[]): void {
  describe(`${program.name} WGSL`, () => {
    for (const variant of variants) {
      const name = snapshotName(program, variant);
      it(`snapshot ${name}`, async () => {
        await expect(program.wgsl(variant)).toMatchFileSnapshot(`${dir}/__snapshots__/${name}`);
      });
    }
    gpuTest('every variant compiles', async ({ device }) => {
      for (const variant of variants) {
        if (program.requiredFeatures?.(variant).some((f) => !device.features.has(f))) continue;
        await getPipeline(device, program, variant);
      }
    });
  });
}
