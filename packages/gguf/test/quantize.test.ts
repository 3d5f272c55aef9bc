import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dequantize, dequantizeBytes, floatToHalf, halfToFloat, parseGguf, quantize, tensorBytes } from '../src/index.js';
import { Rng } from '@distillery/core';

const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
const load = (name: string) => parseGguf(readFileSync(models + name), { source: name });

/** Gaussian values with a few outliers and an all-zero block, so every branch of the quantisers runs. */
function testValues(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * 0.05 * (rng.next() < 0.01 ? 20 : 1);
  out.fill(0, 256, 512);
  out.fill(0.25, 512, 544);
  return out;
}

function blockMax(x: Float32Array, start: number, length: number): number {
  let m = 0;
  for (let i = start; i < start + length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

describe('half precision', () => {
  it('floatToHalf inverts halfToFloat on all 65,536 patterns and rounds midpoints to even', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x) ? !Number.isNaN(halfToFloat(floatToHalf(x))) : floatToHalf(x) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1); 1 + 3·2^-11 goes up.
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(2 ** -25)).toBe(0);
    expect(floatToHalf(-(2 ** -25) * 1.5)).toBe(0x8001);
  });
});

describe('quantise → dequantise', () => {
  const x = testValues(256 * 24, 7);

  it('Q8_0: every value within half a step (amax/254) plus the f16 rounding of the scale', () => {
    const y = dequantizeBytes(quantize(x, 'Q8_0'), 'Q8_0', x.length);
    let blocksWithError = 0;
    for (let b = 0; b < x.length / 32; b++) {
      const amax = blockMax(x, b * 32, 32);
      const bound = amax / 254 + amax * 2 ** -11 + 1e-12;
      let worst = 0;
      for (let i = b * 32; i < b * 32 + 32; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      expect(worst, `block ${b}`).toBeLessThanOrEqual(bound);
      if (worst > 0) blocksWithError++;
    }
    expect(blocksWithError).toBeGreaterThan(x.length / 32 / 2);
  });

  it('Q4_0: every value within one step (amax/8), all but the clipped top within half a step', () => {
    const bytes = quantize(x, 'Q4_0');
    expect(bytes.length).toBe((x.length / 32) * 18);
    const y = dequantizeBytes(bytes, 'Q4_0', x.length);
    for (let b = 0; b < x.length / 32; b++) {
      const step = blockMax(x, b * 32, 32) / 8;
      for (let i = b * 32; i < b * 32 + 32; i++) {
        const err = Math.abs(x[i]! - y[i]!);
        expect(err, `value ${i}`).toBeLessThanOrEqual(step * (1 + 2 ** -7) + 1e-12);
        // Only values on the far side of the block's extreme can be clipped (grid −8…7 around it).
        if (Math.abs(x[i]!) < 7 * step) expect(err, `value ${i}`).toBeLessThanOrEqual(step * (0.5 + 2 ** -7) + 1e-12);
      }
    }
    // The extreme of each block is represented exactly up to the f16 scale: q = 0 ⇒ x = −8·d.
    expect(Math.abs(y[3]! - x[3]!)).toBeLessThan(0.05);
  });

  it("Q4_K: each value is the nearest point of its sub-block grid d·sc·q − dmin·m, and the error is below Q4_0's", () => {
    const bytes = quantize(x, 'Q4_K');
    expect(bytes.length).toBe((x.length / 256) * 144);
    const y = dequantizeBytes(bytes, 'Q4_K', x.length);
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    for (let b = 0; b < x.length / 256; b++) {
      const d = halfToFloat(v.getUint16(b * 144, true));
      const dmin = halfToFloat(v.getUint16(b * 144 + 2, true));
      for (let s = 0; s < 8; s++) {
        // The 8 grids of a super-block, read back from the dequantised values: y = a·q − c with q in 0…15.
        const start = b * 256 + 32 * s;
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = start; i < start + 32; i++) {
          lo = Math.min(lo, y[i]!);
          hi = Math.max(hi, y[i]!);
        }
        // Nearest grid point: the error is at most half a grid step, unless the value lies outside the grid.
        const bad = [];
        for (let i = start; i < start + 32; i++) {
          if (y[i]! < -dmin * 63 - 1e-9) bad.push(i);
          if (x[i]! >= lo && x[i]! <= hi && Math.abs(x[i]! - y[i]!) > (d * 63) / 2 + 1e-7) bad.push(i);
        }
        expect(bad).toEqual([]);
      }
    }
    const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, e, i) => s + (e - x[i]!) ** 2, 0) / x.length);
    const q4_0 = rms(dequantizeBytes(quantize(x, 'Q4_0'), 'Q4_0', x.length));
    const q4_k = rms(y);
    expect(q4_k).toBeLessThan(q4_0);
    expect(q4_k).toBeLessThan(0.01);
    expect(q4_k).toBeGreaterThan(0);
  });

  it('Q4_K: all-zero super-blocks and constant sub-blocks survive exactly', () => {
    const z = new Float32Array(512);
    z.fill(0.5, 256, 288);
    const y = dequantizeBytes(quantize(z, 'Q4_K'), 'Q4_K', 512);
    for (let i = 0; i < 256; i++) expect(y[i]).toBe(0);
    for (let i = 288; i < 512; i++) expect(y[i]).toBe(0);
    for (let i = 256; i < 288; i++) expect(Math.abs(y[i]! - 0.5)).toBeLessThan(0.5 / 63);
  });

  it('refuses rows that are not whole blocks, non-finite values, and types it cannot encode', () => {
    expect(() => quantize(new Float32Array(172), 'Q8_0', { name: 'blk.0.ffn_down.weight' })).toThrow(
      expect.objectContaining({ code: 'E_SHAPE_MISMATCH', message: expect.stringContaining('blk.0.ffn_down.weight') }),
    );
    expect(() => quantize(new Float32Array(64 * 4), 'Q4_K', { rowLength: 64 })).toThrow(
      expect.objectContaining({ code: 'E_SHAPE_MISMATCH' }),
    );
    expect(() => quantize(Float32Array.of(...new Array(31).fill(0), NaN), 'Q4_0')).toThrow(
      expect.objectContaining({ code: 'E_NON_FINITE' }),
    );
    expect(() => quantize(new Float32Array(256), 'Q6_K' as never, { name: 'w' })).toThrow(
      expect.objectContaining({ code: 'E_UNSUPPORTED', message: expect.stringContaining('Q6_K') }),
    );
  });
});

describe('the re-encodings shipped in ../shared agree with these quantisers', () => {
  const f32 = load('stories260K.gguf');

  for (const [file, type] of [
    ['stories260K-q8_0.gguf', 'Q8_0'],
    ['stories260K-q8_0.gguf', 'F16'],
    ['stories260K-f16.gguf', 'F16'],
  ] as const) {
    it(`${file}: re-encoding the F32 weights as ${type} gives the same bytes`, () => {
      const other = load(file);
      let blocks = 0;
      let differing = 0;
      let tensors = 0;
      for (const t of other.tensors) {
        if (t.typeName !== type) continue;
        tensors++;
        const ours = quantize(dequantize(f32, t.name), type, { name: t.name, rowLength: t.dims[0] });
        const theirs = tensorBytes(other, t);
        const blockBytes = type === 'Q8_0' ? 34 : 2;
        for (let at = 0; at < theirs.length; at += blockBytes) {
          blocks++;
          for (let k = 0; k < blockBytes; k++) {
            if (ours[at + k] !== theirs[at + k]) {
              differing++;
              break;
            }
          }
        }
        const a = dequantize(other, t);
        const b = dequantizeBytes(ours, type, t.elements);
        expect(a.every((value, i) => value === b[i])).toBe(true);
      }
      expect(tensors).toBeGreaterThan(0);
      expect(blocks).toBeGreaterThan(1000);
      expect(differing, `${differing} of ${blocks} ${type} blocks differ`).toBe(0);
    });
  }
});
