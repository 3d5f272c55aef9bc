import { DistilleryError } from '@distillery/core';

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

export const NO_ADAPTER_HELP = [
  'No WebGPU adapter was found.',
  'In Node, Distillery uses the `webgpu` package (Dawn), which needs a Vulkan driver on Linux:',
  '  - with a GPU: the vendor driver with its Vulkan ICD (NVIDIA, or Mesa radv/anv);',
  '  - without a GPU: Mesa >= 25 lavapipe. On Debian 12 add the bookworm-backports suite, then',
  '      apt-get install libvulkan1 && apt-get install -t bookworm-backports mesa-vulkan-drivers',
  '    (Mesa 22 from the main suite is too old for Dawn). `vulkaninfo --summary` should list a device.',
  'In a browser, WebGPU must be enabled (Chrome/Edge 113+, or a flag elsewhere).',
].join('\n');

const dawnGpuCache = new Map<string, Promise<GPU>>();

/** Loads the `webgpu` package (an optional peer dependency) and creates a Dawn GPU object. */
async function nodeGpu(flags: readonly string[]): Promise<GPU> {
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
          `${NO_ADAPTER_HELP}\nThe \`webgpu\` package could not be loaded (${(error as Error).message}); install it: npm install webgpu`,
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

/** `navigator.gpu` in a browser (or a runtime that has it), else Dawn through `webgpu`. */
export async function getGpu(dawnFlags: readonly string[] = []): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  return nodeGpu(['disable-dawn-features=timestamp_quantization', ...dawnFlags]);
}

export function summarizeAdapter(adapter: GPUAdapter, backend: string): AdapterSummary {
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const description = info.description ?? '';
  const isFallback = Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|warp/i.test(`${description} ${info.device ?? ''}`);
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description,
    backend,
    isFallback,
  };
}

/** A short, file-name-safe name for an adapter: `mesa-llvmpipe`, `nvidia-h100`... */
export function adapterSlug(info: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description'>): string {
  const text = [info.vendor, info.architecture || info.device || info.description].filter(Boolean).join('-');
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'unknown-adapter';
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
  if (!adapter) throw new DistilleryError('E_NO_ADAPTER', NO_ADAPTER_HELP);
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
