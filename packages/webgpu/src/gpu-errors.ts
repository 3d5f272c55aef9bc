import { DistilleryError } from '@distillery/core';

/**
 * When a submit runs inside WebGPU error scopes, so a validation or out-of-memory error becomes a
 * thrown `E_GPU_VALIDATION` / `E_GPU_OOM` naming the kernel instead of an `uncapturederror` event
 * and garbage numbers:
 * - `always`: every submit (tests and CI: the default under vitest or DISTILLERY_REQUIRE_GPU=1);
 * - `first-use`: submits holding a pipeline that has not yet gone through one checked submit
 *   (the default elsewhere: a kernel bug shows up on its first dispatch, and steady-state steps
 *   pay nothing);
 * - `off`: never.
 * `DISTILLERY_GPU_CHECKS=always|first-use|off` overrides the default.
 */
export type GpuErrorChecks = 'always' | 'first-use' | 'off';

function defaultChecks(): GpuErrorChecks {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const forced = env.DISTILLERY_GPU_CHECKS;
  if (forced === 'always' || forced === 'first-use' || forced === 'off') return forced;
  return env.DISTILLERY_REQUIRE_GPU === '1' || env.VITEST ? 'always' : 'first-use';
}

let checks: GpuErrorChecks = defaultChecks();

export function setGpuErrorChecks(mode: GpuErrorChecks): void {
  if (mode !== 'always' && mode !== 'first-use' && mode !== 'off') {
    throw new DistilleryError('E_BAD_VALUE', `gpu error checks must be always, first-use or off, got ${String(mode)}`, {
      field: 'gpuErrorChecks',
      value: mode,
    });
  }
  checks = mode;
}

export function gpuErrorChecks(): GpuErrorChecks {
  return checks;
}

const checkedPipelines = new WeakSet<GPUComputePipeline>();

/** Whether a submit of these pipelines runs inside error scopes under the current mode. */
export function shouldCheck(pipelines: readonly GPUComputePipeline[]): boolean {
  if (checks === 'always') return true;
  if (checks === 'off') return false;
  return pipelines.some((p) => !checkedPipelines.has(p));
}

export function markChecked(pipelines: readonly GPUComputePipeline[]): void {
  for (const p of pipelines) checkedPipelines.add(p);
}

export interface DispatchIdentity {
  kernel: string;
  label: string;
}

/**
 * The typed error of a scope's GPUError. Dawn's messages quote the labels of the objects involved
 * (`[BindGroup "label"]`), so the dispatch whose label the message quotes is the one named; when
 * none is quoted, every kernel of the chain is.
 */
export function gpuError(
  error: GPUError,
  kind: 'validation' | 'out-of-memory',
  chain: string,
  dispatches: readonly DispatchIdentity[],
): DistilleryError {
  const culprit =
    dispatches.find((d) => error.message.includes(`"${d.label}"`)) ?? dispatches.find((d) => error.message.includes(d.kernel));
  const kernel = culprit?.kernel ?? [...new Set(dispatches.map((d) => d.kernel))].join(', ');
  const label = culprit?.label ?? chain;
  const code = kind === 'validation' ? 'E_GPU_VALIDATION' : 'E_GPU_OOM';
  const what = kind === 'validation' ? 'WebGPU validation error' : 'GPU out of memory';
  return new DistilleryError(code, `${what} in kernel ${kernel} (${label}, submit "${chain}"): ${error.message}`, {
    kernel,
    label,
    submit: chain,
    gpuMessage: error.message,
  });
}
