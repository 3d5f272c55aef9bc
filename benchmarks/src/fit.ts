/**
 * Whether a benchmark case fits the device before it allocates anything: every buffer within the
 * device's `maxBufferSize`, and all of them together within a memory budget. Pure (limits in, a
 * reason out), so the decisions are testable without a GPU; case-guard.ts applies them.
 */
import { DistilleryError } from '@distillery/core';
import { isCpuAdapter, type AdapterIdentity } from '@distillery/webgpu';

export interface FitLimits {
  /** `GPUDevice.limits.maxBufferSize`. */
  maxBufferSize: number;
  /** The most bytes one case may hold in buffers at once; undefined: no static budget. */
  budget?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Decimal units for sizes a case computes (`2.10 GB`), so they compare at a glance with `nvidia-smi` and `free -g`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(2)} kB`;
  return `${bytes} bytes`;
}

/** A limit as it is usually written: WebGPU's limits are powers of two (`256 MiB`), budgets often are not. */
export function formatLimit(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return formatBytes(bytes);
}

/**
 * Why buffers of these byte sizes cannot be allocated together under `limits`, or undefined when
 * they can. The largest buffer is checked first: raising the budget would not help it.
 */
export function unfitReason(bufferBytes: readonly number[], limits: FitLimits): string | undefined {
  const largest = Math.max(0, ...bufferBytes);
  if (largest > limits.maxBufferSize) return `a ${formatBytes(largest)} buffer > maxBufferSize ${formatLimit(limits.maxBufferSize)}`;
  const total = bufferBytes.reduce((sum, b) => sum + b, 0);
  if (limits.budget !== undefined && total > limits.budget)
    return `needs ${formatBytes(total)} in ${bufferBytes.length} buffer${bufferBytes.length === 1 ? '' : 's'} > budget ${formatLimit(limits.budget)}`;
  return undefined;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: KiB, mib: MiB, gib: GiB, tib: 1024 * GiB };

/**
 * `--max-gpu-bytes`: a byte count (`8000000000`, `8e9`), with a unit (`8GB`, `6 GiB`, `512MiB`), or
 * `none` (no budget, even on a CPU adapter). Returns null for `none`.
 */
export function parseByteSize(text: string, field = 'max-gpu-bytes'): number | null {
  const trimmed = text.trim();
  if (/^none$/i.test(trimmed)) return null;
  const match = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)$/i.exec(trimmed);
  const unit = match && UNITS[match[2]!.toLowerCase()];
  const bytes = match && unit ? Math.floor(Number(match[1]) * unit) : Number.NaN;
  if (!Number.isFinite(bytes) || bytes <= 0)
    throw new DistilleryError(
      'E_BAD_VALUE',
      `--${field} must be a positive byte count such as 8000000000, 8GB or 6GiB, or none; got ${JSON.stringify(text)}`,
      { field, value: text },
    );
  return bytes;
}

/**
 * The memory budget of a run: `--max-gpu-bytes` when given; else, on a CPU adapter (lavapipe,
 * SwiftShader, WARP: its "GPU memory" is the host's, shared with the baselines and the OS),
 * `cpuAdapterDefault`; else none (a real GPU reports running out through an error scope instead).
 */
export function memoryBudget(
  option: string | undefined,
  adapter: AdapterIdentity,
  cpuAdapterDefault: number,
): { bytes?: number; source: string } {
  if (option !== undefined) {
    const bytes = parseByteSize(option);
    return bytes === null ? { source: '--max-gpu-bytes none' } : { bytes, source: '--max-gpu-bytes' };
  }
  if (isCpuAdapter(adapter)) return { bytes: cpuAdapterDefault, source: 'default on a CPU adapter' };
  return { source: 'no static budget on a GPU' };
}
