import { DistilleryError } from '@distillery/core';
import { quantize } from './quantize.js';
import { tensorBytes, type GgufFile, type GgufMetadataEntry, type GgufValue } from './read.js';
import { GGML_BLOCK, GGML_TYPE, GGUF_VALUE_TYPE, ggmlTypeName, type GgmlTypeName, type GgufValueType } from './types.js';

/** A metadata value to write: a typed entry, or a string / boolean / string array (whose type is unambiguous). */
export type GgufMetadataInput = GgufMetadataEntry | string | boolean | string[];

export interface GgufTensorSpec {
  name: string;
  /** Row-major shape, outermost first (`[out, in]` for a weight). Give this or `dims`. */
  shape?: readonly number[];
  /** ggml order, `dims[0]` fastest (the reverse of `shape`). */
  dims?: readonly number[];
  /** The ggml type to store (`"F32"`, `"F16"`, `"Q8_0"`, … or its id). */
  type: GgmlTypeName | number;
  /**
   * Float32Array: values in row-major order, encoded as `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_K).
   * Uint8Array: bytes already in `type`'s layout, written as they are.
   */
  data: Float32Array | Uint8Array;
}

export interface GgufWriteSpec {
  /** In file order. A parsed file's `entries` map round-trips with its on-disk types. */
  metadata: Map<string, GgufMetadataInput> | Record<string, GgufMetadataInput>;
  /** In file order; data is laid out in the same order. */
  tensors: readonly GgufTensorSpec[];
  /** Data alignment in bytes (default 32, or the metadata's `general.alignment`). Written as `general.alignment` when not 32. */
  alignment?: number;
}

/** Typed metadata entries, for building a spec by hand: `{ 'llama.block_count': gguf.u32(5) }`. */
export const ggufValue = {
  u8: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.UINT8, value }),
  i8: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.INT8, value }),
  u16: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.UINT16, value }),
  i16: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.INT16, value }),
  u32: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.UINT32, value }),
  i32: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.INT32, value }),
  u64: (value: number | bigint): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.UINT64, value }),
  i64: (value: number | bigint): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.INT64, value }),
  f32: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.FLOAT32, value }),
  f64: (value: number): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.FLOAT64, value }),
  bool: (value: boolean): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.BOOL, value }),
  string: (value: string): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.STRING, value }),
  array: (itemType: GgufValueType, value: GgufValue[]): GgufMetadataEntry => ({ type: GGUF_VALUE_TYPE.ARRAY, itemType, value }),
};

function bad(field: string, value: unknown, expected: string, message?: string): DistilleryError {
  const shown = typeof value === 'bigint' ? value.toString() : value;
  return new DistilleryError(
    'E_BAD_VALUE',
    message ?? `GGUF ${field} is ${typeof shown === 'string' ? JSON.stringify(shown) : String(shown)}, expected ${expected}`,
    { field, value: shown, expected },
  );
}

const INTEGER_RANGES: Partial<Record<number, [bigint, bigint, string]>> = {
  [GGUF_VALUE_TYPE.UINT8]: [0n, 255n, 'u8'],
  [GGUF_VALUE_TYPE.INT8]: [-128n, 127n, 'i8'],
  [GGUF_VALUE_TYPE.UINT16]: [0n, 65535n, 'u16'],
  [GGUF_VALUE_TYPE.INT16]: [-32768n, 32767n, 'i16'],
  [GGUF_VALUE_TYPE.UINT32]: [0n, 2n ** 32n - 1n, 'u32'],
  [GGUF_VALUE_TYPE.INT32]: [-(2n ** 31n), 2n ** 31n - 1n, 'i32'],
  [GGUF_VALUE_TYPE.UINT64]: [0n, 2n ** 64n - 1n, 'u64'],
  [GGUF_VALUE_TYPE.INT64]: [-(2n ** 63n), 2n ** 63n - 1n, 'i64'],
};

const encoder = new TextEncoder();

/** Sizes, then writes, one value: the two passes share this so they cannot disagree. */
class Sink {
  pos = 0;
  constructor(
    readonly bytes?: Uint8Array,
    readonly view?: DataView,
  ) {}
  skip(n: number): void {
    this.pos += n;
  }
  u32(v: number): void {
    this.view?.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: number | bigint): void {
    this.view?.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  raw(b: Uint8Array): void {
    this.bytes?.set(b, this.pos);
    this.pos += b.byteLength;
  }
  string(s: string | Uint8Array): void {
    const b = typeof s === 'string' ? encoder.encode(s) : s;
    this.u64(b.byteLength);
    this.raw(b);
  }
  align(alignment: number): void {
    this.pos = Math.ceil(this.pos / alignment) * alignment; // the buffer is zero-filled: padding is zeros
  }
}

function checkScalar(type: number, value: GgufValue, field: string): void {
  const range = INTEGER_RANGES[type];
  if (range) {
    if (
      !((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint') ||
      BigInt(value) < range[0] ||
      BigInt(value) > range[1]
    ) {
      throw bad(field, value, `an integer in ${range[2]}'s range ${range[0]}…${range[1]}`);
    }
    return;
  }
  switch (type) {
    case GGUF_VALUE_TYPE.FLOAT32:
    case GGUF_VALUE_TYPE.FLOAT64:
      if (typeof value !== 'number') throw bad(field, value, 'a number');
      return;
    case GGUF_VALUE_TYPE.BOOL:
      if (typeof value !== 'boolean') throw bad(field, value, 'a boolean');
      return;
    case GGUF_VALUE_TYPE.STRING:
      if (typeof value !== 'string') throw bad(field, value, 'a string');
      return;
    default:
      throw bad(`${field} type`, type, 'a GGUF value type 0–12 (arrays cannot nest)');
  }
}

function writeScalar(sink: Sink, type: number, value: GgufValue): void {
  const v = sink.view;
  const at = sink.pos;
  switch (type) {
    case GGUF_VALUE_TYPE.UINT8:
    case GGUF_VALUE_TYPE.INT8:
    case GGUF_VALUE_TYPE.BOOL:
      if (v) v.setUint8(at, type === GGUF_VALUE_TYPE.BOOL ? Number(value) : Number(value) & 0xff);
      sink.skip(1);
      return;
    case GGUF_VALUE_TYPE.UINT16:
    case GGUF_VALUE_TYPE.INT16:
      v?.setUint16(at, Number(value) & 0xffff, true);
      sink.skip(2);
      return;
    case GGUF_VALUE_TYPE.UINT32:
    case GGUF_VALUE_TYPE.INT32:
      v?.setUint32(at, Number(value) >>> 0, true);
      sink.skip(4);
      return;
    case GGUF_VALUE_TYPE.FLOAT32:
      v?.setFloat32(at, value as number, true);
      sink.skip(4);
      return;
    case GGUF_VALUE_TYPE.UINT64:
      v?.setBigUint64(at, BigInt(value as number | bigint), true);
      sink.skip(8);
      return;
    case GGUF_VALUE_TYPE.INT64:
      v?.setBigInt64(at, BigInt(value as number | bigint), true);
      sink.skip(8);
      return;
    case GGUF_VALUE_TYPE.FLOAT64:
      v?.setFloat64(at, value as number, true);
      sink.skip(8);
      return;
    case GGUF_VALUE_TYPE.STRING:
      sink.string(value as string);
      return;
  }
}

function toEntry(key: string, input: GgufMetadataInput): GgufMetadataEntry {
  if (typeof input === 'string') return ggufValue.string(input);
  if (typeof input === 'boolean') return ggufValue.bool(input);
  if (Array.isArray(input)) {
    if (!input.every((s) => typeof s === 'string'))
      throw bad(`metadata["${key}"]`, 'an untyped array', 'a string[] or a typed entry { type, itemType, value }');
    return ggufValue.array(GGUF_VALUE_TYPE.STRING, input);
  }
  if (typeof input !== 'object' || input === null || typeof input.type !== 'number') {
    throw bad(
      `metadata["${key}"]`,
      typeof input,
      'a typed entry { type, value } (numbers need a type: use ggufValue.u32(…), ggufValue.f32(…), …), a string, a boolean or a string[]',
    );
  }
  return input;
}

interface PreparedTensor {
  name: string;
  dims: number[];
  type: number;
  bytes: Uint8Array;
}

function prepareTensor(spec: GgufTensorSpec, index: number): PreparedTensor {
  const field = `tensors[${index}]`;
  if (typeof spec.name !== 'string' || spec.name.length === 0) throw bad(`${field}.name`, spec.name, 'a non-empty string');
  const dims = spec.dims ? [...spec.dims] : spec.shape ? [...spec.shape].reverse() : undefined;
  if (!dims) throw bad(`tensors["${spec.name}"].shape`, undefined, 'a shape or dims');
  if (spec.dims && spec.shape && spec.shape.join() !== [...spec.dims].reverse().join()) {
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `tensor ${JSON.stringify(spec.name)}: shape [${spec.shape.join(', ')}] is not dims [${spec.dims.join(', ')}] reversed`,
      { field: `tensors["${spec.name}"].shape`, value: [...spec.shape], expected: `[${[...spec.dims].reverse().join(', ')}]` },
    );
  }
  if (dims.length < 1 || dims.length > 4 || !dims.every((d) => Number.isInteger(d) && d >= 1))
    throw bad(`tensors["${spec.name}"].dims`, `[${dims.join(', ')}]`, '1 to 4 positive integers');
  const typeName = typeof spec.type === 'number' ? ggmlTypeName(spec.type) : spec.type;
  const type = GGML_TYPE[typeName as GgmlTypeName];
  const block = GGML_BLOCK[typeName as GgmlTypeName];
  if (type === undefined || !block) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `tensor ${JSON.stringify(spec.name)}: ggml type ${typeName} has no block layout Distillery knows, so it cannot be written`,
      { field: `tensors["${spec.name}"].type`, value: typeName },
    );
  }
  const elements = dims.reduce((a, b) => a * b, 1);
  let bytes: Uint8Array;
  if (spec.data instanceof Float32Array) {
    if (spec.data.length !== elements) {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `tensor ${JSON.stringify(spec.name)}: ${spec.data.length} values for shape [${[...dims].reverse().join(', ')}] (${elements})`,
        { field: `tensors["${spec.name}"].data`, value: spec.data.length, expected: String(elements) },
      );
    }
    bytes = quantize(spec.data, typeName as GgmlTypeName, { name: spec.name, rowLength: dims[0] });
  } else if (spec.data instanceof Uint8Array) {
    if (dims[0]! % block.elements !== 0)
      throw bad(`tensors["${spec.name}"].dims[0]`, dims[0], `a multiple of ${typeName}'s block of ${block.elements}`);
    const expected = (elements / block.elements) * block.bytes;
    if (spec.data.byteLength !== expected) {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `tensor ${JSON.stringify(spec.name)}: ${spec.data.byteLength} bytes, but ${elements} values of ${typeName} take ${expected}`,
        { field: `tensors["${spec.name}"].data`, value: spec.data.byteLength, expected: String(expected) },
      );
    }
    bytes = spec.data;
  } else {
    throw bad(`tensors["${spec.name}"].data`, typeof spec.data, 'a Float32Array (to encode) or a Uint8Array (raw bytes)');
  }
  return { name: spec.name, dims, type, bytes };
}

/**
 * Writes a GGUF v3 file: header, metadata (with the types given), tensor infos, then each tensor's
 * data at an offset aligned to `alignment`, zero-padded (also after the last tensor, like ggml and
 * gguf-py). Browser-safe: returns the bytes. `writeGguf(ggufSpecOf(parseGguf(bytes)))` reproduces a
 * file written by ggml or gguf-py byte for byte.
 */
export function writeGguf(spec: GgufWriteSpec): Uint8Array {
  const entries = new Map<string, GgufMetadataEntry>();
  const inputs = spec.metadata instanceof Map ? [...spec.metadata] : Object.entries(spec.metadata);
  for (const [key, input] of inputs) entries.set(key, toEntry(key, input));
  const declared = entries.get('general.alignment');
  let alignment = spec.alignment ?? (typeof declared?.value === 'number' ? declared.value : 32);
  // GGUF asks for a multiple of 8; llama.cpp refuses anything but a power of two.
  if (!Number.isInteger(alignment) || alignment < 8 || (alignment & (alignment - 1)) !== 0)
    throw bad('alignment', alignment, 'a power of two ≥ 8 (llama.cpp refuses others)');
  if (declared) {
    if (declared.value !== alignment) throw bad('metadata["general.alignment"]', declared.value, `${alignment}, the alignment asked for`);
  } else if (alignment !== 32) {
    entries.set('general.alignment', ggufValue.u32(alignment));
  }
  alignment = Number(alignment);
  for (const [key, entry] of entries) {
    const field = `metadata["${key}"]`;
    if (entry.type === GGUF_VALUE_TYPE.ARRAY) {
      if (!Array.isArray(entry.value)) throw bad(field, typeof entry.value, 'an array');
      if (entry.itemType === undefined) throw bad(`${field}.itemType`, undefined, 'the array item type');
      entry.value.forEach((item, i) => checkScalar(entry.itemType!, item, `${field}[${i}]`));
    } else {
      checkScalar(entry.type, entry.value, field);
    }
  }
  const names = new Set<string>();
  const tensors = spec.tensors.map((t, i) => {
    const prepared = prepareTensor(t, i);
    if (names.has(prepared.name)) throw bad(`tensors[${i}].name`, prepared.name, 'a name not used by another tensor');
    names.add(prepared.name);
    return prepared;
  });

  const emit = (sink: Sink): void => {
    sink.raw(encoder.encode('GGUF'));
    sink.u32(3);
    sink.u64(tensors.length);
    sink.u64(entries.size);
    for (const [key, entry] of entries) {
      sink.string(key);
      sink.u32(entry.type);
      if (entry.type === GGUF_VALUE_TYPE.ARRAY) {
        const items = entry.value as GgufValue[];
        sink.u32(entry.itemType!);
        sink.u64(items.length);
        for (const item of items) writeScalar(sink, entry.itemType!, item);
      } else {
        writeScalar(sink, entry.type, entry.value);
      }
    }
    let offset = 0;
    for (const t of tensors) {
      sink.string(t.name);
      sink.u32(t.dims.length);
      for (const d of t.dims) sink.u64(d);
      sink.u32(t.type);
      sink.u64(offset);
      offset += Math.ceil(t.bytes.byteLength / alignment) * alignment;
    }
    sink.align(alignment);
    for (const t of tensors) {
      sink.raw(t.bytes);
      sink.align(alignment);
    }
  };
  const sizing = new Sink();
  emit(sizing);
  const out = new Uint8Array(sizing.pos);
  const sink = new Sink(out, new DataView(out.buffer));
  emit(sink);
  return out;
}

/** A parsed file as a write spec (on-disk metadata types, raw tensor bytes): edit it, then `writeGguf` it. */
export function ggufSpecOf(file: GgufFile): GgufWriteSpec & { metadata: Map<string, GgufMetadataEntry>; tensors: GgufTensorSpec[] } {
  return {
    metadata: new Map(file.entries),
    tensors: file.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: tensorBytes(file, t) })),
    alignment: file.alignment,
  };
}
