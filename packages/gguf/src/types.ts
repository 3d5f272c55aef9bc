/**
 * The GGUF value types and ggml tensor types, as numbered in ggml's `gguf.h` / `ggml.h`.
 * The numbers are part of the file format: never renumber.
 */
export const GGUF_VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufValueType = (typeof GGUF_VALUE_TYPE)[keyof typeof GGUF_VALUE_TYPE];

/** ggml tensor types (the subset with a fixed block layout; names as llama.cpp prints them). */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
} as const;

export type GgmlTypeName = keyof typeof GGML_TYPE;
export type GgmlType = (typeof GGML_TYPE)[GgmlTypeName];

/** Elements per block and bytes per block of each ggml type whose layout is fixed. */
export const GGML_BLOCK: Readonly<Partial<Record<GgmlTypeName, { elements: number; bytes: number }>>> = {
  F32: { elements: 1, bytes: 4 },
  F16: { elements: 1, bytes: 2 },
  BF16: { elements: 1, bytes: 2 },
  F64: { elements: 1, bytes: 8 },
  I8: { elements: 1, bytes: 1 },
  I16: { elements: 1, bytes: 2 },
  I32: { elements: 1, bytes: 4 },
  I64: { elements: 1, bytes: 8 },
  Q4_0: { elements: 32, bytes: 18 },
  Q4_1: { elements: 32, bytes: 20 },
  Q5_0: { elements: 32, bytes: 22 },
  Q5_1: { elements: 32, bytes: 24 },
  Q8_0: { elements: 32, bytes: 34 },
  Q8_1: { elements: 32, bytes: 36 },
  Q2_K: { elements: 256, bytes: 84 },
  Q3_K: { elements: 256, bytes: 110 },
  Q4_K: { elements: 256, bytes: 144 },
  Q5_K: { elements: 256, bytes: 176 },
  Q6_K: { elements: 256, bytes: 210 },
  Q8_K: { elements: 256, bytes: 292 },
};

const TYPE_NAMES = new Map<number, GgmlTypeName>(Object.entries(GGML_TYPE).map(([name, id]) => [id, name as GgmlTypeName]));

/** The llama.cpp name of a ggml type id (`"Q8_0"`), or `"type <id>"` for an id this table does not know. */
export function ggmlTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}

export function ggmlTypeId(name: GgmlTypeName): GgmlType {
  return GGML_TYPE[name];
}
