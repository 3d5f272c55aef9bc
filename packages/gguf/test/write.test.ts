import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GGUF_VALUE_TYPE, dequantize, ggufSpecOf, ggufValue, parseGguf, tensorBytes, writeGguf } from '../src/index.js';

const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
const FILES = ['stories260K.gguf', 'stories260K-f16.gguf', 'stories260K-q8_0.gguf'];

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('writeGguf', () => {
  for (const name of FILES) {
    it(`write(parse(${name})) is the original file, byte for byte`, () => {
      const original = new Uint8Array(readFileSync(models + name));
      const written = writeGguf(ggufSpecOf(parseGguf(original, { source: name })));
      expect(firstDifference(written, original)).toBe(-1);
    });
  }

  it('writes every value type, u64 beyond 2^53, string arrays, a custom alignment, and reads them back', () => {
    const big = 2n ** 60n + 3n;
    const bytes = writeGguf({
      metadata: {
        'general.architecture': 'test',
        'test.flag': true,
        'test.u8': ggufValue.u8(255),
        'test.i8': ggufValue.i8(-128),
        'test.u16': ggufValue.u16(65535),
        'test.i16': ggufValue.i16(-32768),
        'test.u32': ggufValue.u32(4294967295),
        'test.i32': ggufValue.i32(-2147483648),
        'test.u64': ggufValue.u64(big),
        'test.i64': ggufValue.i64(-(2n ** 62n)),
        'test.f32': ggufValue.f32(0.1),
        'test.f64': ggufValue.f64(0.1),
        'test.words': ['a', 'ünïcødé', ''],
        'test.ints': ggufValue.array(GGUF_VALUE_TYPE.INT32, [1, -2, 3]),
      },
      tensors: [
        { name: 'a', shape: [2, 3], type: 'F32', data: Float32Array.of(1, 2, 3, 4, 5, 6) },
        { name: 'b', shape: [64], type: 'Q8_0', data: new Float32Array(64).map((_, i) => i / 64) },
        { name: 'c', dims: [32, 2], type: 'F16', data: new Float32Array(64).fill(0.5) },
      ],
      alignment: 64,
    });
    const f = parseGguf(bytes);
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    expect(bytes.length % 64).toBe(0);
    expect(f.metadata).toMatchObject({
      'test.flag': true,
      'test.u8': 255,
      'test.i8': -128,
      'test.u16': 65535,
      'test.i16': -32768,
      'test.u32': 4294967295,
      'test.i32': -2147483648,
      'test.u64': big,
      'test.i64': -(2n ** 62n),
      'test.f64': 0.1,
      'test.words': ['a', 'ünïcødé', ''],
      'test.ints': [1, -2, 3],
      'general.alignment': 64,
    });
    expect(f.metadata['test.f32']).toBe(Math.fround(0.1));
    expect(f.entries.get('test.u64')!.type).toBe(GGUF_VALUE_TYPE.UINT64);
    expect(f.tensors.map((t) => [t.name, t.typeName, t.shape, t.offset % 64])).toEqual([
      ['a', 'F32', [2, 3], 0],
      ['b', 'Q8_0', [64], 0],
      ['c', 'F16', [2, 32], 0],
    ]);
    expect([...dequantize(f, 'a')]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Math.max(...dequantize(f, 'b').map((v, i) => Math.abs(v - i / 64)))).toBeLessThan(0.01);
    expect(dequantize(f, 'c').every((v) => v === 0.5)).toBe(true);
    // Re-writing the parsed file reproduces it.
    expect(firstDifference(writeGguf(ggufSpecOf(f)), bytes)).toBe(-1);
  });

  it('re-encodes stories260K F32 → F16 into the same bytes as the shared F16 file', () => {
    const f32 = parseGguf(readFileSync(models + 'stories260K.gguf'));
    const f16 = parseGguf(readFileSync(models + 'stories260K-f16.gguf'));
    const spec = ggufSpecOf(f32);
    spec.tensors = f32.tensors.map((t) => ({
      name: t.name,
      dims: t.dims,
      type: f16.tensors.find((o) => o.name === t.name)!.typeName as 'F16' | 'F32',
      data: dequantize(f32, t),
    }));
    const written = parseGguf(writeGguf(spec));
    for (const t of f16.tensors) expect(firstDifference(tensorBytes(written, t.name), tensorBytes(f16, t)), t.name).toBe(-1);
  });

  it('refuses bad specs with typed errors naming the field', () => {
    const tensor = { name: 'w', shape: [2, 32], type: 'F32' as const, data: new Float32Array(64) };
    const cases: [Parameters<typeof writeGguf>[0], string, RegExp][] = [
      [{ metadata: { n: 5 as never }, tensors: [] }, 'E_BAD_VALUE', /metadata\["n"\]/],
      [{ metadata: { n: ggufValue.u8(256) }, tensors: [] }, 'E_BAD_VALUE', /u8/],
      [{ metadata: { n: ggufValue.u32(1.5) }, tensors: [] }, 'E_BAD_VALUE', /metadata\["n"\]/],
      [{ metadata: { n: { type: 13 as never, value: 1 } }, tensors: [] }, 'E_BAD_VALUE', /type/],
      [{ metadata: { n: ggufValue.array(GGUF_VALUE_TYPE.STRING, ['a', 1]) }, tensors: [] }, 'E_BAD_VALUE', /metadata\["n"\]\[1\]/],
      [{ metadata: {}, tensors: [tensor], alignment: 12 }, 'E_BAD_VALUE', /alignment/],
      [{ metadata: {}, tensors: [tensor], alignment: 24 }, 'E_BAD_VALUE', /alignment.*power of two/],
      [{ metadata: {}, tensors: [tensor, tensor] }, 'E_BAD_VALUE', /"w"/],
      [{ metadata: {}, tensors: [{ ...tensor, data: new Float32Array(63) }] }, 'E_SHAPE_MISMATCH', /"w"/],
      [{ metadata: {}, tensors: [{ ...tensor, type: 'Q8_0', data: new Uint8Array(67) }] }, 'E_SHAPE_MISMATCH', /68/],
      [
        { metadata: {}, tensors: [{ ...tensor, shape: [2, 30], data: new Float32Array(60), type: 'Q4_0' }] },
        'E_SHAPE_MISMATCH',
        /"w".*Q4_0/,
      ],
      [{ metadata: {}, tensors: [{ ...tensor, type: 'IQ2_XXS' }] }, 'E_UNSUPPORTED', /IQ2_XXS/],
      [{ metadata: {}, tensors: [{ ...tensor, shape: [0, 32] }] }, 'E_BAD_VALUE', /dims/],
    ];
    for (const [spec, code, message] of cases) {
      let error: unknown;
      try {
        writeGguf(spec);
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toMatchObject({ name: 'DistilleryError', code, message: expect.stringMatching(message) });
    }
  });
});
