/**
 * IEEE-754 half precision on the host, in plain TypeScript (browser-safe, no GPU): f16 tensors and
 * GGUF F16 tensors hold raw half bits, so uploads, readbacks and (de)quantisation go through these.
 * `floatToHalf` is bit-checked against ggml's `GGML_FP32_TO_FP16` by @distillery/gguf's tests.
 */

/** IEEE half bits → number (exact; subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The float32 bit pattern of a number (after rounding it to float32). */
export function floatBits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/**
 * number → IEEE half bits: rounded to float32 first, then to nearest even (as ggml's
 * `GGML_FP32_TO_FP16`, F16C or its portable fallback): overflow gives ±inf, NaN stays NaN, tiny
 * values become subnormals or ±0.
 */
export function floatToHalf(x: number): number {
  const bits = floatBits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && h & 1)) h++;
    return sign | h;
  }
  // A carry out of the mantissa correctly bumps the exponent (up to 0x7c00 = inf).
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}
