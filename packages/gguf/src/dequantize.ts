import { DistilleryError } from '@distillery/core';
import { tensorBytes, type GgufFile, type GgufTensorInfo, getTensorInfo } from './read.js';

/** IEEE half → float (exact; subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

type Dequantizer = (bytes: Uint8Array, out: Float32Array) => void;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const DEQUANTIZERS: Record<string, Dequantizer> = {
  F32(bytes, out) {
    const v = view(bytes);
    for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(4 * i, true);
  },
  F16(bytes, out) {
    const v = view(bytes);
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(v.getUint16(2 * i, true));
  },
  BF16(bytes, out) {
    const v = view(bytes);
    const word = new Uint32Array(1);
    const f = new Float32Array(word.buffer);
    for (let i = 0; i < out.length; i++) {
      word[0] = v.getUint16(2 * i, true) << 16;
      out[i] = f[0]!;
    }
  },
  /** Blocks of 32: f16 scale d, then 32 int8 q; x = d · q. */
  Q8_0(bytes, out) {
    const v = view(bytes);
    for (let b = 0; b < out.length / 32; b++) {
      const at = b * 34;
      const d = halfToFloat(v.getUint16(at, true));
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * v.getInt8(at + 2 + j);
    }
  },
};

/** The ggml types `dequantize` reads. */
export function dequantizableTypes(): string[] {
  return Object.keys(DEQUANTIZERS);
}

/** Registers the dequantiser of another ggml type (used by the quantisation modules). */
export function registerDequantizer(typeName: string, fn: Dequantizer): void {
  DEQUANTIZERS[typeName] = fn;
}

/**
 * A tensor's values as float32, in row-major order (ggml's `dims[0]` fastest). Types without a
 * dequantiser are refused with `E_UNSUPPORTED` naming the tensor and its type.
 */
export function dequantize(file: GgufFile, tensor: string | GgufTensorInfo): Float32Array {
  const info = typeof tensor === 'string' ? getTensorInfo(file, tensor) : tensor;
  const fn = DEQUANTIZERS[info.typeName];
  if (!fn) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `${file.source}: tensor ${JSON.stringify(info.name)} has ggml type ${info.typeName}; Distillery dequantises ${Object.keys(DEQUANTIZERS).join(', ')}`,
      { file: file.source, field: `tensors["${info.name}"].type`, value: info.typeName, expected: Object.keys(DEQUANTIZERS).join(' | ') },
    );
  }
  const out = new Float32Array(info.elements);
  fn(tensorBytes(file, info), out);
  return out;
}
