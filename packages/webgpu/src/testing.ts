/**
 * Vitest fixtures for GPU tests (`@distillery/webgpu/testing`).
 *
 *   import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
 *   gpuDescribe('softmax', () => { gpuTest('rows', async ({ device }) => { ... }) });
 *
 * `gpuTest` hands each test the file's shared device inside validation, out-of-memory and internal
 * error scopes, and fails the test on any error the device reports. Without an adapter the GPU
 * tests are skipped with a loud warning — unless DISTILLERY_REQUIRE_GPU=1 (CI), where a missing
 * adapter fails the run.
 */
import { describe, expect, test } from 'vitest';
import { getPipeline, type KernelProgram } from './program.js';
import { stableKey, variantHash } from './wgsl/hash.js';
import { acquireDevice, type AcquiredDevice } from './device.js';
import { NO_ADAPTER_HELP } from './device.js';

let shared: Promise<AcquiredDevice> | undefined;

/** The device shared by every GPU test in this worker. */
export function sharedDevice(): Promise<AcquiredDevice> {
  shared ??= acquireDevice({ label: 'distillery-test' });
  return shared;
}

async function probe(): Promise<AcquiredDevice | Error> {
  try {
    return await sharedDevice();
  } catch (error) {
    return error as Error;
  }
}

const probed = await probe();
export const gpuAvailable = !(probed instanceof Error);
export const requireGpu =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.DISTILLERY_REQUIRE_GPU === '1';

if (!gpuAvailable) {
  const reason = (probed as Error).message;
  if (requireGpu) {
    throw new Error(`DISTILLERY_REQUIRE_GPU=1 but no WebGPU adapter is available: ${reason}`);
  }
  console.warn(`\n${'!'.repeat(72)}\n!! GPU TESTS SKIPPED: no WebGPU adapter.\n!! ${reason.replace(/\n/g, '\n!! ')}\n${'!'.repeat(72)}\n`);
}

export { NO_ADAPTER_HELP };

/** Runs `fn` inside error scopes and throws if the device reported any error. */
export async function withDevice<R>(fn: (device: GPUDevice, acquired: AcquiredDevice) => Promise<R>): Promise<R> {
  const acquired = await sharedDevice();
  const { device } = acquired;
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: R;
  try {
    result = await fn(device, acquired);
  } finally {
    const errors = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()].filter(Boolean);
    if (errors.length) {
      // eslint-disable-next-line no-unsafe-finally -- a device error must fail the test even when fn threw too
      throw new Error(
        `WebGPU reported ${errors.length} error(s):\n${errors.map((e) => `  ${e!.constructor.name}: ${e!.message}`).join('\n')}`,
      );
    }
  }
  return result;
}

export interface GpuFixtures {
  device: GPUDevice;
  acquired: AcquiredDevice;
}

/** A vitest `test` whose context has `device` (inside error scopes) and `acquired`. */
export const gpuTest = test.extend<GpuFixtures>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  acquired: async ({}, use) => {
    await use(await sharedDevice());
  },
  device: async ({ acquired }, use) => {
    await withDevice(async (device) => {
      await use(device);
    });
    void acquired;
  },
});

/** `describe` that skips (loudly) when no adapter is available and GPU tests are not required. */
export const gpuDescribe: typeof describe = (gpuAvailable ? describe : describe.skip) as typeof describe;

/**
 * One committed WGSL file per variant, named by the program and a short hash of the variant
 * (`nn.layer-norm.3f9a0c21.wgsl`; its first line spells the variant out), so adding a variant field
 * changes the kernel, not the names of dozens of files. Every variant also compiles on the test
 * device (those whose features the device lacks are skipped), and a snapshot file of this program
 * that no listed variant produces fails the run (stale files do not pile up).
 */
export function kernelSnapshots<V>(dir: string, program: KernelProgram<V>, variants: readonly V[]): void {
  const folder = `${dir}/__snapshots__`;
  const files = variants.map((variant) => `${program.name}.${variantHash(variant)}.wgsl`);
  describe(`${program.name} WGSL`, () => {
    variants.forEach((variant, i) => {
      test(`snapshot ${files[i]} ${stableKey(variant)}`, async () => {
        await expect(`// ${program.name} ${stableKey(variant)}\n${program.wgsl(variant)}`).toMatchFileSnapshot(`${folder}/${files[i]}`);
      });
    });
    test('no stale snapshot of this program', async () => {
      const { readdir } = await import('node:fs/promises');
      const pattern = new RegExp(`^${program.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.[0-9a-f]{8}\\.wgsl$`);
      const present = (await readdir(folder).catch(() => [] as string[])).filter((f) => pattern.test(f));
      expect(
        present.filter((f) => !files.includes(f)),
        'snapshot files no variant produces: delete them',
      ).toEqual([]);
    });
    gpuTest('every variant compiles', async ({ device }) => {
      for (const variant of variants) {
        if (program.requiredFeatures?.(variant).some((f) => !device.features.has(f))) continue;
        await getPipeline(device, program, variant);
      }
    });
  });
}
