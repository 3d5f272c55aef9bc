import { DistilleryError } from '@distillery/core';
// A relative import in the sources (so tests and type-checks see the Node loader); the build
// rewrites it to `#node-gpu`, which package.json maps to a stub for browsers.
import { loadNodeGpu } from './node-gpu.js';
import { browserNoAdapterHelp, NODE_NO_ADAPTER_HELP } from './no-adapter-help.js';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** How WebGPU reaches the hardware: `dawn-node` in Node, `browser` in a browser. */
  backend: string;
  /** True for CPU/software adapters (lavapipe, SwiftShader, WARP). */
  isFallback: boolean;
}

export interface AcquireOptions {
  /** Use this adapter instead of requesting one. */
  adapter?: GPUAdapter;
  /** Use this GPU object (e.g. `navigator.gpu`, or one made with `webgpu`'s `create`). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * Features to enable. Default: every one Distillery can use that the adapter offers
   * (`shader-f16`, `subgroups`, `timestamp-query`). Listing a feature the adapter lacks throws E_UNSUPPORTED.
   */
  features?: readonly GPUFeatureName[];
  /** Flags for Dawn in Node, e.g. `disable-dawn-features=timestamp_quantization` (always added). */
  dawnFlags?: readonly string[];
  label?: string;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterSummary;
}

const USEFUL_FEATURES: readonly GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[];
/** Limits raised to the adapter's maximum, because large vocabularies need large bindings. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The E_NO_ADAPTER help for Node (kept under its old name for callers that print it). */
export const NO_ADAPTER_HELP = NODE_NO_ADAPTER_HELP;

interface BrowserLike {
  navigator?: { gpu?: GPU };
  window?: unknown;
  document?: unknown;
  importScripts?: unknown;
}

/** A page or a worker (not Node, Deno or Bun): where a missing adapter needs browser help. */
function inBrowserContext(): boolean {
  const g = globalThis as BrowserLike;
  return (typeof g.window === 'object' && typeof g.document === 'object') || typeof g.importScripts === 'function';
}

/** `navigator.gpu` in a browser (or a runtime that has it), else Dawn through `webgpu`. */
export async function getGpu(dawnFlags: readonly string[] = []): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (inBrowserContext())
    throw new DistilleryError('E_NO_ADAPTER', browserNoAdapterHelp('no-navigator-gpu'), { reason: 'no-navigator-gpu' });
  return loadNodeGpu(['disable-dawn-features=timestamp_quantization', ...dawnFlags]);
}

/** What an adapter says of itself, as `GPUAdapterInfo` or an `AdapterSummary` (fields may be missing). */
export interface AdapterIdentity {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** `GPUAdapterInfo.isFallbackAdapter` (Chrome) */
  isFallbackAdapter?: boolean;
  /** `AdapterSummary.isFallback` */
  isFallback?: boolean;
}

/**
 * A CPU implementation of WebGPU (lavapipe/llvmpipe, SwiftShader, WARP): its "GPU memory" is the
 * host's, and the kernels' tiles and launch shapes differ there. The one test every package uses.
 */
export function isCpuAdapter(info: AdapterIdentity | undefined): boolean {
  if (!info) return false;
  return (
    Boolean(info.isFallbackAdapter || info.isFallback) ||
    /llvmpipe|lavapipe|swiftshader|warp|software|cpu/i.test(
      `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`,
    )
  );
}

/** `isCpuAdapter` of the adapter a device came from (`GPUDevice.adapterInfo`; false where the runtime lacks it). */
export function isCpuDevice(device: GPUDevice): boolean {
  return isCpuAdapter((device as { adapterInfo?: GPUAdapterInfo & AdapterIdentity }).adapterInfo);
}

export function summarizeAdapter(adapter: GPUAdapter, backend: string): AdapterSummary {
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    backend,
    isFallback: isCpuAdapter(info as GPUAdapterInfo & AdapterIdentity),
  };
}

/** A short, file-name-safe name for an adapter: `mesa-llvmpipe`, `nvidia-h100`... */
export function adapterSlug(info: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description'>): string {
  const text = [info.vendor, info.architecture || info.device || info.description].filter(Boolean).join('-');
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'unknown-adapter'
  );
}

const lostDevices = new WeakMap<GPUDevice, GPUDeviceLostInfo>();

/** Throws E_DEVICE_LOST when the device was lost; kernels call it before encoding work. */
export function assertDeviceAlive(device: GPUDevice): void {
  const lost = lostDevices.get(device);
  if (lost) {
    throw new DistilleryError('E_DEVICE_LOST', `GPU device "${device.label}" was lost (${lost.reason}): ${lost.message}`, {
      reason: lost.reason,
    });
  }
}

export function isDeviceLost(device: GPUDevice): boolean {
  return lostDevices.has(device);
}

/** Requests an adapter and a device with Distillery's features and raised limits. */
export async function acquireDevice(options: AcquireOptions = {}): Promise<AcquiredDevice> {
  const inBrowser = Boolean((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu);
  let adapter = options.adapter ?? null;
  if (!adapter) {
    const gpu = options.gpu ?? (await getGpu(options.dawnFlags));
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  }
  if (!adapter) {
    if (inBrowser || inBrowserContext())
      throw new DistilleryError('E_NO_ADAPTER', browserNoAdapterHelp('no-adapter'), { reason: 'no-adapter' });
    throw new DistilleryError('E_NO_ADAPTER', NO_ADAPTER_HELP);
  }
  const wanted = options.features ?? USEFUL_FEATURES.filter((f) => adapter.features.has(f));
  const missing = wanted.filter((f) => !adapter.features.has(f));
  if (missing.length) {
    throw new DistilleryError('E_UNSUPPORTED', `the adapter lacks feature(s) ${missing.join(', ')}`, { field: 'features', value: missing });
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const device = await adapter.requestDevice({
    label: options.label ?? 'distillery',
    requiredFeatures: wanted,
    requiredLimits,
  });
  void device.lost.then((info) => {
    lostDevices.set(device, info);
  });
  return { device, adapter, info: summarizeAdapter(adapter, inBrowser ? 'browser' : 'dawn-node') };
}
