/**
 * Reuses GPU buffers across steps: a training loop allocates the same shapes every step, and
 * createBuffer/destroy per step costs driver time and fragments memory. Buffers are grouped in
 * size classes (within 1/8 of the request) and by usage flags.
 */
export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  bytesInUse: number;
  /** High-water mark of `bytesInUse` since creation or the last `resetPeak()`. */
  peakBytesInUse: number;
  /** Bytes held idle for reuse. */
  bytesFree: number;
  allocations: number;
  reuses: number;
}

/** Rounds up to a size class: multiples of 1/16 of the next power of two (min 256 bytes), so at most 1/8 over. */
export function sizeClass(bytes: number): number {
  const size = Math.max(256, bytes);
  const pow = 2 ** Math.ceil(Math.log2(size));
  const step = Math.max(256, pow / 16);
  return Math.ceil(size / step) * step;
}

export class BufferPool {
  readonly #free = new Map<string, GPUBuffer[]>();
  readonly #sizes = new WeakMap<GPUBuffer, number>();
  #stats: PoolStats = { bytesInUse: 0, peakBytesInUse: 0, bytesFree: 0, allocations: 0, reuses: 0 };

  constructor(readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.#free.get(key);
    let buffer = list?.pop();
    if (buffer) {
      this.#stats.reuses++;
      this.#stats.bytesFree -= size;
      buffer.label = label;
    } else {
      buffer = this.device.createBuffer({ size, usage, label });
      this.#sizes.set(buffer, size);
      this.#stats.allocations++;
    }
    this.#stats.bytesInUse += size;
    this.#stats.peakBytesInUse = Math.max(this.#stats.peakBytesInUse, this.#stats.bytesInUse);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = this.#sizes.get(buffer);
    if (size === undefined) {
      buffer.destroy();
      return;
    }
    this.#stats.bytesInUse -= size;
    this.#stats.bytesFree += size;
    const key = `${buffer.usage}:${size}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, (list = []));
    list.push(buffer);
  }

  stats(): PoolStats {
    return { ...this.#stats };
  }

  resetPeak(): void {
    this.#stats.peakBytesInUse = this.#stats.bytesInUse;
  }

  /** Destroys every idle buffer (e.g. between benchmark cases). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#stats.bytesFree = 0;
  }
}

const pools = new WeakMap<GPUDevice, BufferPool>();

/** The device's shared pool, created on first use. */
export function bufferPool(device: GPUDevice): BufferPool {
  let pool = pools.get(device);
  if (!pool) pools.set(device, (pool = new BufferPool(device)));
  return pool;
}
