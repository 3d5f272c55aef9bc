import { floatToHalf, halfToFloat } from '@distillery/core/half';

/**
 * IEEE-754 half ⇄ number on the host: f16 tensors hold raw half bits in a Uint16Array, so uploads
 * and readbacks of f16 data go through these (round to nearest even on the way in). They are
 * @distillery/core's `halfToFloat` / `floatToHalf` (the ones GGUF files are written with) under
 * this package's names.
 */
export const f16BitsToNumber: (bits: number) => number = halfToFloat;
export const numberToF16Bits: (value: number) => number = floatToHalf;

export function numbersToF16Bits(values: readonly number[]): Uint16Array {
  return Uint16Array.from(values, floatToHalf);
}
