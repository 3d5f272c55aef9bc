import { DistilleryError } from '@distillery/core';
import { halfToFloat } from './half.js';
import { q4kScaleMin } from './quantize.js';
import { tensorBytes, type GgufFile, type GgufTensorInfo, getTensorInfo } from './read.js';
import { GGML_BLOCK, type GgmlTypeName } from './types.js';

export { halfToFloat };

const f = Math.fround;

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
  /** Blocks of 32: f16 scale d, then 16 bytes; byte j holds element j (low nibble) and j + 16 (high); x = d · (q − 8). */
  Q4_0(bytes, out) {
    const v = view(bytes);
    for (let b = 0; b < out.length / 32; b++) {
      const at = b * 18;
      const d = halfToFloat(v.getUint16(at, true));
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 2 + j]!;
        out[b * 32 + j] = ((q & 0xf) - 8) * d;
        out[b * 32 + 16 + j] = ((q >> 4) - 8) * d;
      }
    }
  },
  /**
   * Super-blocks of 256: f16 d and dmin, 12 bytes of packed 6-bit (scale, min) for 8 sub-blocks of 32,
   * 128 bytes of nibbles (32 bytes per pair of sub-blocks: low nibbles the first, high the second);
   * x = d·scale·q − dmin·min, in float32 like ggml.
   */
  Q4_K(bytes, out) {
    const v = view(bytes);
    for (let b = 0; b < out.length / 256; b++) {
      const at = b * 144;
      const d = halfToFloat(v.getUint16(at, true));
      const dmin = halfToFloat(v.getUint16(at + 2, true));
      for (let pair = 0; pair < 4; pair++) {
        const [sc1, m1] = q4kScaleMin(2 * pair, bytes, at + 4);
        const [sc2, m2] = q4kScaleMin(2 * pair + 1, bytes, at + 4);
        const d1 = f(d * sc1);
        const min1 = f(dmin * m1);
        const d2 = f(d * sc2);
        const min2 = f(dmin * m2);
        const q = at + 16 + 32 * pair;
        const y = b * 256 + 64 * pair;
        for (let l = 0; l < 32; l++) {
          out[y + l] = f(d1 * (bytes[q + l]! & 0xf)) - min1;
          out[y + 32 + l] = f(d2 * (bytes[q + l]! >> 4)) - min2;
        }
      }
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

/**
 * Decodes raw bytes of a ggml type (a tensor's data, or `quantize`'s output) into `elements` float32
 * values. `E_UNSUPPORTED` for a type without a dequantiser, `E_SHAPE_MISMATCH` when the byte count
 * does not match.
 */
export function dequantizeBytes(bytes: Uint8Array, type: GgmlTypeName, elements: number): Float32Array {
  const fn = DEQUANTIZERS[type];
  const block = GGML_BLOCK[type];
  if (!fn || !block) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `Distillery cannot dequantise ggml type ${type}; it dequantises ${Object.keys(DEQUANTIZERS).join(', ')}`,
      {
        field: 'type',
        value: type,
        expected: Object.keys(DEQUANTIZERS).join(' | '),
      },
    );
  }
  const expected = (elements / block.elements) * block.bytes;
  if (!Number.isInteger(expected) || bytes.byteLength !== expected) {
    throw new DistilleryError('E_SHAPE_MISMATCH', `${elements} values of ${type} take ${expected} bytes, got ${bytes.byteLength}`, {
      field: 'bytes',
      value: bytes.byteLength,
      expected: String(expected),
    });
  }
  const out = new Float32Array(elements);
  fn(bytes, out);
  return out;
}
