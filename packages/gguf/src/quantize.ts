import { DistilleryError } from '@distillery/core';
import { floatToBf16, floatToHalf, halfToFloat } from './half.js';
import { GGML_BLOCK, type GgmlTypeName } from './types.js';

/*
 * Quantisers with the rounding of ggml's reference quantisers (`quantize_row_*_ref` in
 * ggml-quants.c, what `llama-quantize` uses without an importance matrix). ggml computes in float32,
 * so every intermediate here is rounded with Math.fround in the same order of operations; float64
 * arithmetic rounded once to float32 equals the float32 operation for + − × ÷ and sqrt.
 */
const f = Math.fround;

/** C's roundf: halves away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** ggml's `nearest_int`: round half to even through the float32 magic-number add (valid for |v| ≤ 2^22). */
function nearestInt(v: number): number {
  if (Math.abs(v) > 4194303) return Math.round(v);
  return f(v + 12582912) - 12582912;
}

/** Q8_0: blocks of 32 → f16 d = amax/127, int8 q = roundf(x/d). */
function quantizeQ8_0(x: Float32Array, out: Uint8Array): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    v.setUint16(b * 34, floatToHalf(d), true);
    for (let j = 0; j < 32; j++) v.setInt8(b * 34 + 2 + j, roundAway(f(x[b * 32 + j]! * id)));
  }
}

/** Q4_0: blocks of 32 → f16 d = (the signed value of largest magnitude)/−8, q = min(15, trunc(x/d + 8.5)); low nibbles hold elements 0–15. */
function quantizeQ4_0(x: Float32Array, out: Uint8Array): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const value = x[b * 32 + j]!;
      if (amax < Math.abs(value)) {
        amax = Math.abs(value);
        max = value;
      }
    }
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    v.setUint16(b * 18, floatToHalf(d), true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(f(f(x[b * 32 + j]! * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(f(f(x[b * 32 + 16 + j]! * id) + 8.5)));
      out[b * 18 + 2 + j] = lo | (hi << 4);
    }
  }
}

/**
 * ggml's `make_qkx2_quants`: the scale and (negated) minimum of an asymmetric `nmax`-level grid for
 * one sub-block, searched over `nstep + 1` candidate scales by weighted least squares.
 */
function makeQkx2Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  weights: Float32Array,
  L: Uint8Array,
  laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
): { scale: number; min: number } {
  let min = x[0]!;
  let max = x[0]!;
  let sumW = weights[0]!;
  let sumX = f(sumW * x[0]!);
  for (let i = 1; i < n; i++) {
    if (x[i]! < min) min = x[i]!;
    if (x[i]! > max) max = x[i]!;
    const w = weights[i]!;
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * x[i]!));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    return { scale: 0, min: -min };
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i]! - min)))));
    L[i] = l;
    let diff = f(f(f(scale * l) + min) - x[i]!);
    diff = f(diff * diff);
    bestError = f(bestError + f(weights[i]! * diff));
  }
  for (let is = 0; is <= nstep; is++) {
    // `min` moves to the best candidate's as the search goes, and with it the grid's origin and range (as in ggml).
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i]! - min)))));
      laux[i] = l;
      const wl = f(weights[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let error = 0;
      for (let i = 0; i < n; i++) {
        let diff = f(f(f(thisScale * laux[i]!) + thisMin) - x[i]!);
        diff = f(diff * diff);
        error = f(error + f(weights[i]! * diff));
      }
      if (error < bestError) {
        L.set(laux.subarray(0, n));
        bestError = error;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, min: -min };
}

/** Q4_K's packing of eight 6-bit scales and eight 6-bit mins into 12 bytes (ggml's `get_scale_min_k4`). */
export function q4kScaleMin(j: number, scales: Uint8Array, at: number): [scale: number, min: number] {
  if (j < 4) return [scales[at + j]! & 63, scales[at + j + 4]! & 63];
  return [(scales[at + j + 4]! & 0xf) | ((scales[at + j - 4]! >> 6) << 4), (scales[at + j + 4]! >> 4) | ((scales[at + j]! >> 6) << 4)];
}

/**
 * Q4_K: super-blocks of 256 = 8 sub-blocks of 32. Each sub-block gets a 4-bit asymmetric grid
 * (scale, min) fitted by `make_qkx2_quants`; the 8 scales and 8 mins are themselves quantised to
 * 6 bits against the f16 super-block factors d and dmin; then every value is re-rounded to the
 * stored grid. Layout: d (f16), dmin (f16), scales[12], qs[128] (sub-blocks 2i and 2i+1 share 32 bytes: low, high nibbles).
 */
function quantizeQ4_K(x: Float32Array, out: Uint8Array): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const L = new Uint8Array(256);
  const laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0; b < x.length / 256; b++) {
    const base = b * 256;
    const at = b * 144;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const sub = x.subarray(base + 32 * j, base + 32 * j + 32);
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(sub[l]! * sub[l]!));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(sub[l]!));
      const { scale, min } = makeQkx2Quants(32, 15, sub, weights, L.subarray(32 * j, 32 * j + 32), laux, -1, f(0.1), 20);
      scales[j] = scale;
      mins[j] = min;
      if (scale > maxScale) maxScale = scale;
      if (min > maxMin) maxMin = min;
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const packed = out.subarray(at + 4, at + 16);
    packed.fill(0);
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
      if (j < 4) {
        packed[j] = ls;
        packed[j + 4] = lm;
      } else {
        packed[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        packed[j - 4]! |= (ls >> 4) << 6;
        packed[j]! |= (lm >> 4) << 6;
      }
    }
    const dBits = floatToHalf(f(maxScale / 63));
    const dminBits = floatToHalf(f(maxMin / 63));
    v.setUint16(at, dBits, true);
    v.setUint16(at + 2, dminBits, true);
    const dAll = halfToFloat(dBits);
    const dminAll = halfToFloat(dminBits);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = q4kScaleMin(j, packed, 0);
      const d = f(dAll * sc);
      if (!d) continue;
      const dm = f(dminAll * m);
      for (let i = 0; i < 32; i++) L[32 * j + i] = Math.max(0, Math.min(15, nearestInt(f(f(x[base + 32 * j + i]! + dm) / d))));
    }
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) out[at + 16 + 32 * j + l] = L[64 * j + l]! | (L[64 * j + 32 + l]! << 4);
    }
  }
}

type Quantizer = (x: Float32Array, out: Uint8Array) => void;

const ENCODERS: Partial<Record<GgmlTypeName, Quantizer>> = {
  F32(x, out) {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < x.length; i++) v.setFloat32(4 * i, x[i]!, true);
  },
  F16(x, out) {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < x.length; i++) v.setUint16(2 * i, floatToHalf(x[i]!), true);
  },
  BF16(x, out) {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < x.length; i++) v.setUint16(2 * i, floatToBf16(x[i]!), true);
  },
  Q8_0: quantizeQ8_0,
  Q4_0: quantizeQ4_0,
  Q4_K: quantizeQ4_K,
};

/** The ggml types `quantize` (and the writer, from a Float32Array) can encode. */
export function encodableTypes(): GgmlTypeName[] {
  return Object.keys(ENCODERS) as GgmlTypeName[];
}

export interface QuantizeOptions {
  /** The tensor's name, for error messages. */
  name?: string;
  /** The row length (ggml `dims[0]`): it must be a multiple of the type's block; default the whole array. */
  rowLength?: number;
}

/**
 * Encodes float32 values as a ggml type (F32, F16, BF16, Q8_0, Q4_0, Q4_K) with the rounding of
 * ggml's reference quantisers: the bytes `llama-quantize` would write for the same values (without an
 * importance matrix). Other types are `E_UNSUPPORTED`; a row length that is not a multiple of the
 * type's block is `E_SHAPE_MISMATCH`; NaN or ±inf into a block-quantised type is `E_NON_FINITE`.
 */
export function quantize(values: Float32Array, type: GgmlTypeName, options: QuantizeOptions = {}): Uint8Array {
  const name = options.name ?? '<tensor>';
  const encode = ENCODERS[type];
  const block = GGML_BLOCK[type];
  if (!encode || !block) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `tensor ${JSON.stringify(name)}: Distillery cannot encode ggml type ${type}; it encodes ${encodableTypes().join(', ')}`,
      {
        field: `tensors["${name}"].type`,
        value: type,
        expected: encodableTypes().join(' | '),
      },
    );
  }
  const rowLength = options.rowLength ?? values.length;
  if (rowLength % block.elements !== 0 || values.length % block.elements !== 0) {
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `tensor ${JSON.stringify(name)}: rows of ${rowLength} values cannot be ${type}, whose blocks hold ${block.elements} values (use F16 or F32 for this tensor)`,
      {
        field: `tensors["${name}"].dims[0]`,
        value: rowLength,
        expected: `a multiple of ${block.elements}`,
      },
    );
  }
  if (block.elements > 1) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new DistilleryError(
          'E_NON_FINITE',
          `tensor ${JSON.stringify(name)}: value ${i} is ${values[i]}; ${type} can only hold finite values`,
          { field: `tensors["${name}"].data[${i}]`, value: String(values[i]) },
        );
      }
    }
  }
  const out = new Uint8Array((values.length / block.elements) * block.bytes);
  encode(values, out);
  return out;
}
