import { DistilleryError } from './errors.js';
import { elementCount, type DType, type HostArray, type HostTensor } from './contracts/tensor.js';

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {str: str} }`,
 * then the raw little-endian tensor bytes. Python users open our checkpoints with `safe_open`.
 */
const TO_SAFETENSORS: Record<DType, string> = { f32: 'F32', f16: 'F16', i32: 'I32', u32: 'U32' };
const FROM_SAFETENSORS: Record<string, DType> = { F32: 'f32', F16: 'f16', I32: 'i32', U32: 'u32' };
const ALIGNMENT = 8;

export interface SafetensorsContent {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

function corrupt(message: string, details: Record<string, unknown> = {}): DistilleryError {
  return new DistilleryError('E_CORRUPT_FILE', `safetensors: ${message}`, details);
}

function arrayFor(dtype: DType, buffer: ArrayBuffer): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer);
    case 'i32':
      return new Int32Array(buffer);
    case 'u32':
      return new Uint32Array(buffer);
    case 'f16':
      return new Uint16Array(buffer);
  }
}

export function encodeSafetensors({
  tensors,
  metadata = {},
}: {
  tensors: Record<string, HostTensor>;
  metadata?: Record<string, string>;
}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const tensor = tensors[name]!;
    const expected = elementCount(tensor.shape);
    if (tensor.data.length !== expected) {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `tensor "${name}" has ${tensor.data.length} elements but shape [${tensor.shape.join(', ')}] needs ${expected}`,
        { field: name },
      );
    }
    header[name] = {
      dtype: TO_SAFETENSORS[tensor.dtype],
      shape: [...tensor.shape],
      data_offsets: [offset, offset + tensor.data.byteLength],
    };
    offset += tensor.data.byteLength;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(headerBytes.length / ALIGNMENT) * ALIGNMENT;
  if (padded !== headerBytes.length) {
    const grown = new Uint8Array(padded).fill(0x20);
    grown.set(headerBytes);
    headerBytes = grown;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.length;
  for (const name of names) {
    const data = tensors[name]!.data;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), cursor);
    cursor += data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): SafetensorsContent {
  if (bytes.byteLength < 8) throw corrupt(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8)
    throw corrupt(`header length ${headerLength} exceeds the file (${bytes.byteLength} bytes): truncated?`, { headerLength });
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw corrupt(`header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw corrupt('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const ours = dtype ? FROM_SAFETENSORS[dtype] : undefined;
    if (!ours) throw corrupt(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`, { field: name });
    if (!Array.isArray(shape) || !Array.isArray(offsets) || offsets.length !== 2)
      throw corrupt(`tensor "${name}" has no valid shape/data_offsets`, { field: name });
    const [begin, end] = offsets;
    const byteLength = elementCount(shape) * (ours === 'f16' ? 2 : 4);
    if (!(begin >= 0 && end >= begin && end <= dataLength) || end - begin !== byteLength) {
      throw corrupt(
        `tensor "${name}" data_offsets [${begin}, ${end}] do not fit the shape [${shape.join(', ')}] or the file (${dataLength} data bytes): truncated?`,
        { field: name },
      );
    }
    // Copy so the tensor is aligned and independent of the file buffer (Node's Buffer#slice would share it).
    const copy = Uint8Array.prototype.slice.call(bytes, dataStart + begin, dataStart + end).buffer;
    tensors[name] = { dtype: ours, shape, data: arrayFor(ours, copy) };
  }
  return { tensors, metadata };
}
