import { DistilleryError } from '@distillery/core';
import { textHash } from './wgsl/hash.js';

/**
 * A kernel's description. Only what changes the WGSL text belongs in the variant (dtype,
 * divergence, workgroup size...); sizes go in uniforms, so a new vocabulary size reuses the
 * compiled pipeline.
 */
export interface KernelProgram<Variant> {
  /** Kernel name, used in labels and errors. */
  name: string;
  /** Stable string of the WGSL-changing parameters; the pipeline cache key. */
  cacheKey(variant: Variant): string;
  /** The WGSL source of this variant. */
  wgsl(variant: Variant): string;
  /** Entry point name (default `main`). */
  entryPoint?: string;
  /** Device features the variant needs (e.g. `shader-f16`); checked before compiling. */
  requiredFeatures?(variant: Variant): readonly GPUFeatureName[];
}

export interface PipelineCacheStats {
  hits: number;
  misses: number;
  size: number;
}

interface DeviceCache {
  pipelines: Map<string, Promise<GPUComputePipeline>>;
  stats: PipelineCacheStats;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function cacheFor(device: GPUDevice): DeviceCache {
  let cache = caches.get(device);
  if (!cache) caches.set(device, (cache = { pipelines: new Map(), stats: { hits: 0, misses: 0, size: 0 } }));
  return cache;
}

export function pipelineCacheStats(device: GPUDevice): PipelineCacheStats {
  return { ...cacheFor(device).stats };
}

async function compile(device: GPUDevice, label: string, code: string, entryPoint: string): Promise<GPUComputePipeline> {
  // The shader's own errors come back through getCompilationInfo with line numbers; swallow the
  // duplicate device-level validation error so it does not leak into the caller's error scope.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label, code });
  const info = await module.getCompilationInfo();
  await device.popErrorScope();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    const first = errors[0]!;
    const lines = code.split('\n');
    const text = lines[first.lineNum - 1] ?? '';
    throw new DistilleryError(
      'E_SHADER_COMPILE',
      `WGSL of ${label} failed to compile at line ${first.lineNum}:${first.linePos}: ${first.message}\n  ${first.lineNum} | ${text}`,
      {
        kernel: label,
        line: first.lineNum,
        column: first.linePos,
        source: text,
        messages: errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`),
      },
    );
  }
  device.pushErrorScope('validation');
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint } });
  } catch (error) {
    await device.popErrorScope();
    throw new DistilleryError(
      'E_SHADER_COMPILE',
      `pipeline ${label} could not be created: ${(error as Error).message}`,
      { kernel: label },
      { cause: error },
    );
  }
  const validation = await device.popErrorScope();
  if (validation) throw new DistilleryError('E_SHADER_COMPILE', `pipeline ${label} is invalid: ${validation.message}`, { kernel: label });
  return pipeline;
}

interface ProgramText {
  code: string;
  hash: string;
}

/** Each program object's WGSL per cache key, generated once (generation is not free, dispatches are many). */
const texts = new WeakMap<object, Map<string, ProgramText>>();

function programText<V>(program: KernelProgram<V>, variant: V, key: string): ProgramText {
  let byKey = texts.get(program);
  if (!byKey) texts.set(program, (byKey = new Map()));
  let text = byKey.get(key);
  if (!text) {
    const code = program.wgsl(variant);
    byKey.set(key, (text = { code, hash: textHash(code) }));
  }
  return text;
}

/**
 * The compiled pipeline of a variant: compiled once per device and WGSL text, then cached. The
 * cache key holds a hash of the WGSL, so two programs that share a name and a cache key never get
 * each other's pipeline.
 */
export function getPipeline<V>(device: GPUDevice, program: KernelProgram<V>, variant: V): Promise<GPUComputePipeline> {
  const cache = cacheFor(device);
  const name = `${program.name}|${program.cacheKey(variant)}`;
  const { code, hash } = programText(program, variant, name);
  const key = `${name}|${hash}`;
  const cached = cache.pipelines.get(key);
  if (cached) {
    cache.stats.hits++;
    return cached;
  }
  for (const feature of program.requiredFeatures?.(variant) ?? []) {
    if (!device.features.has(feature)) {
      return Promise.reject(
        new DistilleryError('E_UNSUPPORTED', `${program.name} (${program.cacheKey(variant)}) needs the device feature ${feature}`, {
          field: 'feature',
          value: feature,
        }),
      );
    }
  }
  cache.stats.misses++;
  const pending = compile(device, name, code, program.entryPoint ?? 'main');
  // A failed compile is not cached: the next call reports the same error instead of a stale rejection.
  pending.catch(() => {
    cache.pipelines.delete(key);
    cache.stats.size = cache.pipelines.size;
  });
  cache.pipelines.set(key, pending);
  cache.stats.size = cache.pipelines.size;
  return pending;
}
