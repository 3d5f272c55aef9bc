import { BYTES_PER_ELEMENT, DistilleryError, badValue } from '@distillery/core';
import { CommandRecorder, GpuTensor, type DispatchSpec } from '@distillery/webgpu';

/** Storage-buffer offsets must be multiples of this (WebGPU's minStorageBufferOffsetAlignment is at most 256). */
const ALIGN = 256;

/** Byte offset of each row window (`rowWindow`) inside its buffer; whole tensors are absent. */
const windowOffsets = new WeakMap<GpuTensor, number>();

/** Byte offset of a tensor's first element inside its buffer: a row window's offset, else 0. */
export function viewOffset(tensor: GpuTensor): number {
  return windowOffsets.get(tensor) ?? 0;
}

/**
 * Rows [first, first + n) of a row-major tensor as a tensor over the same buffer — no copy; its
 * `release()` frees nothing. Kernels that bind it (the row-loss kernels, any dispatch through a
 * `WindowRecorder`) bind that byte range of the buffer. Undefined when the window's byte offset is
 * not a multiple of the device's minStorageBufferOffsetAlignment: the caller copies those rows.
 */
export function rowWindow(
  tensor: GpuTensor,
  first: number,
  n: number,
  label = `${tensor.label}[${first}:${first + n}]`,
): GpuTensor | undefined {
  const rows = tensor.shape[0] ?? 0;
  if (!(Number.isInteger(first) && Number.isInteger(n) && first >= 0 && n >= 1 && first + n <= rows))
    throw badValue(`${tensor.label} rows`, [first, first + n], `a range of whole rows inside [0, ${rows})`);
  const rowBytes = tensor.byteLength / rows;
  const offset = viewOffset(tensor) + first * rowBytes;
  const alignment = tensor.device.limits.minStorageBufferOffsetAlignment;
  if (offset % alignment !== 0 || (n * rowBytes) % 4 !== 0) return undefined;
  const view = new GpuTensor(tensor.device, tensor.buffer, [n, ...tensor.shape.slice(1)], tensor.dtype, label, false);
  windowOffsets.set(view, offset);
  return view;
}

/** What a dispatch binds for `value`: the byte range of a row window, anything else unchanged. */
export function bindingOf<T extends GpuTensor | GPUBuffer | GPUBufferBinding>(value: T): T | GPUBufferBinding {
  if (!(value instanceof GpuTensor)) return value;
  const offset = windowOffsets.get(value);
  return offset === undefined ? value : { buffer: value.buffer, offset, size: Math.ceil(value.byteLength / 4) * 4 };
}

/**
 * A recorder that binds row windows (`rowWindow`) as their byte range: for kernels of other
 * packages (the nn matmul) that take a tensor and bind it whole.
 */
export class WindowRecorder extends CommandRecorder {
  override dispatch<V>(spec: DispatchSpec<V>): this {
    return super.dispatch({ ...spec, bindings: spec.bindings.map(bindingOf) });
  }
}

/** A row-major tensor that the kernels may bind a window of rows of. */
export interface RowTensor {
  tensor: GpuTensor;
  /** Elements per row (the row stride). */
  stride: number;
  /** Field name for errors (`studentLogits`, `teacher.logits`...). */
  field: string;
}

/** One dispatch group: rows [start, end) and, per tensor, the binding and the element shift of row `start` inside it. */
export interface RowGroup {
  start: number;
  end: number;
  bindings: Array<{ binding: GPUBufferBinding | GpuTensor; shift: number }>;
}

/**
 * Splits `rows` into groups so that no tensor's binding exceeds maxStorageBufferBindingSize: a
 * batch of 4,096 × 128,256 f32 logits (2.1 GB) is bound as windows of whole rows. Offsets are
 * aligned down to 256 bytes and the remainder is passed to the kernel as an element shift. With
 * everything under the limit there is one group and every tensor is bound whole.
 */
export function planRowGroups(device: GPUDevice, rows: number, tensors: readonly RowTensor[]): RowGroup[] {
  const limit = device.limits.maxStorageBufferBindingSize;
  const rowBytes = tensors.map((t) => t.stride * BYTES_PER_ELEMENT[t.tensor.dtype]);
  // A row window binds its own bytes; a whole tensor binds its (possibly larger, pooled) buffer.
  const base = tensors.map((t) => viewOffset(t.tensor));
  const extent = tensors.map((t, i) =>
    windowOffsets.has(t.tensor) ? Math.ceil(t.tensor.byteLength / 4) * 4 : t.tensor.buffer.size - base[i]!,
  );
  if (extent.every((bytes) => bytes <= limit)) {
    return [{ start: 0, end: rows, bindings: tensors.map((t) => ({ binding: t.tensor, shift: 0 })) }];
  }
  const worst = Math.max(...rowBytes);
  // A window holds its rows plus up to ALIGN bytes of the previous row (the offset is aligned down).
  const perGroup = Math.floor((limit - ALIGN) / worst);
  if (perGroup < 1) {
    const index = rowBytes.indexOf(worst);
    const field = tensors[index]!.field;
    throw new DistilleryError(
      'E_LIMIT_EXCEEDED',
      `one row of ${field} is ${worst} bytes, above this device's maxStorageBufferBindingSize (${limit} bytes); rows cannot be split further`,
      { field, value: worst, limit: 'maxStorageBufferBindingSize', limitBytes: limit },
    );
  }
  const groups: RowGroup[] = [];
  for (let start = 0; start < rows; start += perGroup) {
    const end = Math.min(rows, start + perGroup);
    groups.push({
      start,
      end,
      bindings: tensors.map((t, i) => {
        const bytes = rowBytes[i]!;
        const elementBytes = BYTES_PER_ELEMENT[t.tensor.dtype];
        const first = base[i]! + start * bytes;
        const offset = Math.floor(first / ALIGN) * ALIGN;
        const size = Math.min(base[i]! + extent[i]! - offset, Math.ceil((base[i]! + end * bytes - offset) / 4) * 4);
        return { binding: { buffer: t.tensor.buffer, offset, size }, shift: (first - offset) / elementBytes };
      }),
    });
  }
  return groups;
}

/**
 * Workgroups per row and columns per workgroup. Enough chunks that few-row × huge-vocabulary
 * batches still spread over the device (≥ `targetGroups` workgroups in all), never chunks under
 * `minChunk` columns; chunk boundaries are multiples of 4 so vec4 loads never straddle them.
 */
export function planChunks(
  rows: number,
  cols: number,
  { targetGroups = 512, minChunk = 2048 }: { targetGroups?: number; minChunk?: number } = {},
): { chunk: number; nChunks: number } {
  const maxChunks = Math.max(1, Math.ceil(cols / minChunk));
  const wanted = Math.min(maxChunks, Math.max(1, Math.ceil(targetGroups / Math.max(1, rows))));
  const chunk = Math.max(4, Math.ceil(Math.ceil(cols / wanted) / 4) * 4);
  return { chunk, nChunks: Math.max(1, Math.ceil(cols / chunk)) };
}
