import { floatBits } from '@distillery/core/half';

// The f16 conversions are shared with @distillery/webgpu's f16 tensors: one implementation, in core.
export { floatBits, floatToHalf, halfToFloat } from '@distillery/core/half';

/** float32 → bfloat16 bits, rounding to nearest even like ggml's `ggml_compute_fp32_to_bf16` (NaN kept quiet). */
export function floatToBf16(x: number): number {
  const bits = floatBits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 64) & 0xffff;
  return ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16) & 0xffff;
}
