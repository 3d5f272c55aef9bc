import { DistilleryError } from '@distillery/core';
import { GGML_BLOCK, GGUF_VALUE_TYPE, ggmlTypeName, type GgufValueType } from './types.js';

/** A metadata value as it is in the file: numbers (u64/i64 beyond 2^53 as bigint), strings, booleans, arrays. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One metadata entry with its on-disk type, so a writer can round-trip it exactly. */
export interface GgufMetadataEntry {
  type: GgufValueType;
  /** For arrays: the element type. */
  itemType?: GgufValueType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: `dims[0]` is the fastest-varying (a row's length). */
  dims: number[];
  /** Row-major shape, outermost first (`dims` reversed): a `[out, in]` weight reads `[out, in]`. */
  shape: number[];
  type: number;
  typeName: string;
  /** Byte offset of the tensor's data from the start of the data section. */
  offset: number;
  elements: number;
  /** Bytes of the tensor's data (undefined when the type's layout is not known). */
  byteLength: number | undefined;
}

export interface GgufFile {
  version: number;
  /** Where the bytes came from (a path or URL), for error messages. */
  source: string;
  /** Plain metadata values by key, in file order. */
  metadata: Record<string, GgufValue>;
  /** The same entries with their on-disk types. */
  entries: Map<string, GgufMetadataEntry>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute byte offset of the data section. */
  dataOffset: number;
  /** The whole file. */
  bytes: Uint8Array;
}

export interface ParseOptions {
  /** Name used in errors (a path or URL); default `"<bytes>"`. */
  source?: string;
}

const MAGIC = 0x46554747; // "GGUF" little-endian
const VALUE_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(GGUF_VALUE_TYPE).map(([name, id]) => [id, name]));

function corrupt(source: string, field: string, value: unknown, expected: string): DistilleryError {
  return new DistilleryError(
    'E_CORRUPT_FILE',
    `${source}: GGUF ${field} is ${typeof value === 'string' ? JSON.stringify(value) : String(value)}, expected ${expected}`,
    {
      file: source,
      field,
      value: typeof value === 'bigint' ? value.toString() : value,
      expected,
    },
  );
}

class Cursor {
  #pos = 0;
  readonly #view: DataView;
  readonly #decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.#pos;
  }

  #need(n: number, field: string): number {
    const at = this.#pos;
    if (at + n > this.bytes.byteLength) {
      throw corrupt(
        this.source,
        field,
        `end of file at byte ${this.bytes.byteLength}`,
        `${n} more bytes at byte ${at} (the file is truncated)`,
      );
    }
    this.#pos += n;
    return at;
  }

  u8(field: string): number {
    return this.#view.getUint8(this.#need(1, field));
  }
  i8(field: string): number {
    return this.#view.getInt8(this.#need(1, field));
  }
  u16(field: string): number {
    return this.#view.getUint16(this.#need(2, field), true);
  }
  i16(field: string): number {
    return this.#view.getInt16(this.#need(2, field), true);
  }
  u32(field: string): number {
    return this.#view.getUint32(this.#need(4, field), true);
  }
  i32(field: string): number {
    return this.#view.getInt32(this.#need(4, field), true);
  }
  f32(field: string): number {
    return this.#view.getFloat32(this.#need(4, field), true);
  }
  f64(field: string): number {
    return this.#view.getFloat64(this.#need(8, field), true);
  }
  u64(field: string): number | bigint {
    const v = this.#view.getBigUint64(this.#need(8, field), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(field: string): number | bigint {
    const v = this.#view.getBigInt64(this.#need(8, field), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 that must be a count or offset this file can hold. */
  size(field: string, limit = this.bytes.byteLength): number {
    const v = this.u64(field);
    if (typeof v !== 'number' || v > limit)
      throw corrupt(this.source, field, v, `at most ${limit} (the file has ${this.bytes.byteLength} bytes)`);
    return v;
  }
  string(field: string): string {
    const length = this.size(`${field} length`);
    const at = this.#need(length, field);
    return this.#decoder.decode(this.bytes.subarray(at, at + length));
  }
}

function readValue(c: Cursor, type: number, field: string): GgufValue {
  switch (type) {
    case GGUF_VALUE_TYPE.UINT8:
      return c.u8(field);
    case GGUF_VALUE_TYPE.INT8:
      return c.i8(field);
    case GGUF_VALUE_TYPE.UINT16:
      return c.u16(field);
    case GGUF_VALUE_TYPE.INT16:
      return c.i16(field);
    case GGUF_VALUE_TYPE.UINT32:
      return c.u32(field);
    case GGUF_VALUE_TYPE.INT32:
      return c.i32(field);
    case GGUF_VALUE_TYPE.FLOAT32:
      return c.f32(field);
    case GGUF_VALUE_TYPE.BOOL: {
      const b = c.u8(field);
      if (b > 1) throw corrupt(c.source, field, b, 'a bool (0 or 1)');
      return b === 1;
    }
    case GGUF_VALUE_TYPE.STRING:
      return c.string(field);
    case GGUF_VALUE_TYPE.UINT64:
      return c.u64(field);
    case GGUF_VALUE_TYPE.INT64:
      return c.i64(field);
    case GGUF_VALUE_TYPE.FLOAT64:
      return c.f64(field);
    default:
      throw corrupt(c.source, `${field} value type`, type, 'a GGUF value type 0–12');
  }
}

function readEntry(c: Cursor, key: string): GgufMetadataEntry {
  const type = c.u32(`metadata["${key}"] type`);
  if (type !== GGUF_VALUE_TYPE.ARRAY) return { type: type as GgufValueType, value: readValue(c, type, `metadata["${key}"]`) };
  const itemType = c.u32(`metadata["${key}"] array item type`);
  if (itemType === GGUF_VALUE_TYPE.ARRAY)
    throw corrupt(c.source, `metadata["${key}"] array item type`, itemType, 'a scalar or string type (nested arrays are not supported)');
  // Checked before the items, so an empty array of an unknown type is refused too.
  if (!(itemType in VALUE_TYPE_NAMES)) throw corrupt(c.source, `metadata["${key}"] array item type`, itemType, 'a GGUF value type 0–12');
  // Every item takes at least one byte: a larger count is a corrupt file, not a huge allocation.
  const count = c.size(`metadata["${key}"] array length`, c.bytes.byteLength - c.position);
  const items: GgufValue[] = new Array(count);
  for (let i = 0; i < count; i++) items[i] = readValue(c, itemType, `metadata["${key}"][${i}]`);
  return { type: GGUF_VALUE_TYPE.ARRAY, itemType: itemType as GgufValueType, value: items };
}

/**
 * Parses a GGUF file (v2 or v3) held in memory: header, metadata, tensor infos. Tensor data is not
 * copied; read it with `tensorBytes` / `dequantize`. Works in any runtime (no Node APIs).
 * Every inconsistency (bad magic, truncation, a tensor outside the file) is an `E_CORRUPT_FILE`
 * naming the source, the field and the value.
 */
export function parseGguf(data: ArrayBuffer | Uint8Array, options: ParseOptions = {}): GgufFile {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const source = options.source ?? '<bytes>';
  const c = new Cursor(bytes, source);
  const magic = c.u32('magic');
  if (magic !== MAGIC) {
    const text = Array.from(bytes.subarray(0, 4), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    throw corrupt(source, 'magic', text, '"GGUF" (this is not a GGUF file)');
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw corrupt(source, 'version', version, '2 or 3');
  // A tensor info takes at least 24 bytes, a metadata entry at least 13.
  const tensorCount = c.size('tensor_count', Math.floor(bytes.byteLength / 24));
  const kvCount = c.size('metadata_kv_count', Math.floor(bytes.byteLength / 13));
  const entries = new Map<string, GgufMetadataEntry>();
  const metadata: Record<string, GgufValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    if (entries.has(key)) throw corrupt(source, `metadata key ${i}`, key, 'a key not seen before in the file');
    const entry = readEntry(c, key);
    entries.set(key, entry);
    metadata[key] = entry.value;
  }
  const alignmentValue = metadata['general.alignment'] ?? 32;
  if (typeof alignmentValue !== 'number' || !Number.isInteger(alignmentValue) || alignmentValue <= 0 || alignmentValue % 8 !== 0) {
    throw corrupt(source, 'metadata["general.alignment"]', alignmentValue, 'a positive multiple of 8');
  }
  const alignment = alignmentValue;
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor ${i} name`);
    if (names.has(name)) throw corrupt(source, `tensor ${i} name`, name, 'a name not used by another tensor');
    names.add(name);
    const nDims = c.u32(`tensor "${name}" n_dims`);
    if (nDims < 1 || nDims > 4) throw corrupt(source, `tensor "${name}" n_dims`, nDims, '1 to 4');
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const n = c.u64(`tensor "${name}" dims[${d}]`);
      if (typeof n !== 'number' || n < 1 || n > 2 ** 40) throw corrupt(source, `tensor "${name}" dims[${d}]`, n, 'a positive size');
      dims.push(n);
    }
    const type = c.u32(`tensor "${name}" type`);
    const offset = c.u64(`tensor "${name}" offset`);
    if (typeof offset !== 'number' || offset % alignment !== 0)
      throw corrupt(source, `tensor "${name}" offset`, offset, `a multiple of the alignment ${alignment}`);
    const elements = dims.reduce((a, b) => a * b, 1);
    const typeName = ggmlTypeName(type);
    const block = GGML_BLOCK[typeName as keyof typeof GGML_BLOCK];
    let byteLength: number | undefined;
    if (block) {
      if (dims[0]! % block.elements !== 0)
        throw corrupt(source, `tensor "${name}" dims[0]`, dims[0], `a multiple of ${typeName}'s block of ${block.elements}`);
      byteLength = (elements / block.elements) * block.bytes;
    }
    tensors.push({ name, dims, shape: [...dims].reverse(), type, typeName, offset, elements, byteLength });
  }
  const dataOffset = Math.ceil(c.position / alignment) * alignment;
  for (const t of tensors) {
    if (t.byteLength !== undefined && dataOffset + t.offset + t.byteLength > bytes.byteLength) {
      throw corrupt(
        source,
        `tensor "${t.name}" data`,
        `bytes ${dataOffset + t.offset}–${dataOffset + t.offset + t.byteLength}`,
        `inside the file's ${bytes.byteLength} bytes (the file is truncated)`,
      );
    }
  }
  return { version, source, metadata, entries, tensors, alignment, dataOffset, bytes };
}

/** The tensor's info by name; `E_NOT_FOUND` listing a few known names when absent. */
export function getTensorInfo(file: GgufFile, name: string): GgufTensorInfo {
  const info = file.tensors.find((t) => t.name === name);
  if (!info) {
    const known = file.tensors.slice(0, 12).map((t) => t.name);
    throw new DistilleryError(
      'E_NOT_FOUND',
      `${file.source}: no tensor named ${JSON.stringify(name)} (it has ${file.tensors.length}: ${known.join(', ')}${file.tensors.length > known.length ? ', …' : ''})`,
      {
        file: file.source,
        field: 'tensor',
        value: name,
        known,
      },
    );
  }
  return info;
}

/** The raw bytes of a tensor (a view into the file, no copy). */
export function tensorBytes(file: GgufFile, tensor: string | GgufTensorInfo): Uint8Array {
  const info = typeof tensor === 'string' ? getTensorInfo(file, tensor) : tensor;
  if (info.byteLength === undefined) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `${file.source}: tensor ${JSON.stringify(info.name)} has ggml type ${info.typeName}, whose layout is not supported`,
      {
        file: file.source,
        field: `tensors["${info.name}"].type`,
        value: info.typeName,
      },
    );
  }
  const start = file.dataOffset + info.offset;
  return file.bytes.subarray(start, start + info.byteLength);
}

/** A metadata value by key with a type check; `E_BAD_INPUT` naming the key when missing or of another type. */
export function requireMetadata<T extends 'number' | 'string' | 'boolean' | 'array'>(
  file: GgufFile,
  key: string,
  kind: T,
): T extends 'number' ? number : T extends 'string' ? string : T extends 'boolean' ? boolean : GgufValue[] {
  const value = file.metadata[key];
  const ok = kind === 'array' ? Array.isArray(value) : typeof value === kind;
  if (!ok) {
    throw new DistilleryError(
      'E_BAD_INPUT',
      `${file.source}: metadata ${JSON.stringify(key)} is ${value === undefined ? 'missing' : JSON.stringify(value)}, expected a ${kind}`,
      {
        file: file.source,
        field: `metadata["${key}"]`,
        value: Array.isArray(value) ? `array of ${value.length}` : value,
        expected: kind,
      },
    );
  }
  return value as never;
}
