import {
  BYTES_PER_ELEMENT,
  DistilleryError,
  elementCount,
  shapeMismatch,
  type DType,
  type HostArray,
  type HostTensor,
  type TensorLike,
} from '@distillery/core';
import { assertDeviceAlive, isDeviceLost } from './device.js';
import { bufferPool } from './pool.js';

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Buffer sizes must be multiples of 4 for copies and writes; odd f16 counts are padded. */
export function paddedByteLength(shape: readonly number[], dtype: DType): number {
  return Math.max(4, Math.ceil((elementCount(shape) * BYTES_PER_ELEMENT[dtype]) / 4) * 4);
}

/** A GPU buffer with a shape, a dtype and a label. Row-major. */
export class GpuTensor implements TensorLike {
  #released = false;

  constructor(
    readonly device: GPUDevice,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label: string,
    private readonly pooled: boolean,
  ) {}

  get size(): number {
    return elementCount(this.shape);
  }

  /** Bytes of data (without the padding to 4). */
  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /** A view of the same buffer with another shape of the same element count. */
  reshape(shape: readonly number[]): GpuTensor {
    if (elementCount(shape) !== this.size) throw shapeMismatch(`${this.label}.reshape`, shape, `${this.size} elements`);
    return new GpuTensor(this.device, this.buffer, shape, this.dtype, this.label, false);
  }

  /** Returns the buffer to the device's pool (or destroys it). Using the tensor afterwards is a bug. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.pooled) bufferPool(this.device).release(this.buffer);
  }
}

export interface TensorOptions {
  shape: readonly number[];
  dtype: DType;
  label: string;
  /** Extra usage flags beyond STORAGE | COPY_SRC | COPY_DST. */
  usage?: GPUBufferUsageFlags;
}

export function checkShape(field: string, shape: readonly number[]): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw shapeMismatch(field, shape, 'non-negative integer dimensions');
}

/** A tensor from the device's pool; its contents are undefined until written. */
export function createTensor(device: GPUDevice, { shape, dtype, label, usage = 0 }: TensorOptions): GpuTensor {
  assertDeviceAlive(device);
  checkShape(label, shape);
  const buffer = bufferPool(device).acquire(paddedByteLength(shape, dtype), STORAGE() | usage, label);
  return new GpuTensor(device, buffer, shape, dtype, label, true);
}

/** A zero-filled tensor. */
export function zerosTensor(device: GPUDevice, options: TensorOptions): GpuTensor {
  const tensor = createTensor(device, options);
  const encoder = device.createCommandEncoder({ label: `${options.label}:zero` });
  encoder.clearBuffer(tensor.buffer, 0, paddedByteLength(tensor.shape, tensor.dtype));
  device.queue.submit([encoder.finish()]);
  return tensor;
}

const ARRAY_FOR: Record<DType, new (n: number) => HostArray> = { f32: Float32Array, f16: Uint16Array, i32: Int32Array, u32: Uint32Array };

/** Uploads host data. `data.length` must equal the shape's element count. */
export function uploadTensor(device: GPUDevice, host: HostTensor, label: string): GpuTensor {
  const expected = elementCount(host.shape);
  if (host.data.length !== expected)
    throw shapeMismatch(`${label}.data`, [host.data.length], `${expected} elements for shape [${host.shape.join(', ')}]`);
  if (!(host.data instanceof ARRAY_FOR[host.dtype])) {
    throw new DistilleryError(
      'E_BAD_VALUE',
      `${label}.data is a ${host.data.constructor.name}, expected ${ARRAY_FOR[host.dtype].name} for dtype ${host.dtype}`,
      { field: `${label}.data` },
    );
  }
  const tensor = createTensor(device, { shape: host.shape, dtype: host.dtype, label });
  const bytes = new Uint8Array(host.data.buffer, host.data.byteOffset, host.data.byteLength);
  const padded = paddedByteLength(host.shape, host.dtype);
  if (bytes.byteLength === padded) device.queue.writeBuffer(tensor.buffer, 0, bytes as Uint8Array<ArrayBuffer>);
  else {
    const staging = new Uint8Array(padded);
    staging.set(bytes);
    device.queue.writeBuffer(tensor.buffer, 0, staging);
  }
  return tensor;
}

/**
 * Copies a buffer range back to the host. The mapped range is copied before `unmap`, so the
 * returned array stays valid. A lost device rejects with E_DEVICE_LOST instead of hanging.
 */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, byteLength: number, offset = 0): Promise<ArrayBuffer> {
  assertDeviceAlive(device);
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const staging = device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    label: `${buffer.label}:readback`,
  });
  try {
    const encoder = device.createCommandEncoder({ label: `${buffer.label}:readback` });
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (error) {
      if (isDeviceLost(device)) assertDeviceAlive(device);
      throw new DistilleryError(
        'E_DEVICE_LOST',
        `mapping ${buffer.label} for readback failed: ${(error as Error).message}`,
        {},
        { cause: error },
      );
    }
    const copy = staging.getMappedRange(0, size).slice(0, byteLength);
    staging.unmap();
    return copy;
  } finally {
    staging.destroy();
  }
}

export async function readTensor(tensor: GpuTensor): Promise<HostTensor> {
  const bytes = await readBuffer(tensor.device, tensor.buffer, tensor.byteLength);
  const Array_ = ARRAY_FOR[tensor.dtype] as unknown as new (buffer: ArrayBuffer) => HostArray;
  return { shape: [...tensor.shape], dtype: tensor.dtype, data: new Array_(bytes) };
}

/** Reads an f32 tensor as a Float32Array. */
export async function readFloat32(tensor: GpuTensor): Promise<Float32Array> {
  if (tensor.dtype !== 'f32')
    throw new DistilleryError('E_BAD_VALUE', `${tensor.label} is ${tensor.dtype}, expected f32`, { field: tensor.label });
  return (await readTensor(tensor)).data as Float32Array;
}
