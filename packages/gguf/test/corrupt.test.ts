import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng, isDistilleryError } from '@distillery/core';
import { dequantize, dequantizableTypes, ggufSpecOf, ggufValue, parseGguf, writeGguf, type GgufFile } from '../src/index.js';

const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
/** stories260K-q8_0's header and metadata (tokenizer included) with one tensor of each type it has (Q8_0, F16, F32): small enough to fuzz quickly. */
const original = (() => {
  const spec = ggufSpecOf(parseGguf(readFileSync(models + 'stories260K-q8_0.gguf')));
  spec.tensors = ['blk.0.attn_q.weight', 'blk.0.ffn_down.weight', 'blk.0.attn_norm.weight'].map((name) =>
    spec.tensors.find((t) => t.name === name)!,
  );
  return writeGguf(spec);
})();
const { dataOffset } = parseGguf(original);
const ALLOWED = new Set(['E_CORRUPT_FILE', 'E_UNSUPPORTED', 'E_BAD_INPUT']);

/**
 * Parses (and, when that succeeds, dequantises every tensor of) `bytes`; returns the error code, or
 * 'ok'. Anything but a DistilleryError with an allowed code fails the test with the case's label.
 */
function attempt(bytes: Uint8Array, label: string): string {
  const started = performance.now();
  const code = outcome(bytes, label);
  // A parse reads the file once; seconds would mean a runaway loop or allocation.
  const ms = performance.now() - started;
  if (ms > 2000) throw new Error(`${label}: took ${Math.round(ms)} ms`);
  return code;
}

function outcome(bytes: Uint8Array, label: string): string {
  try {
    const file: GgufFile = parseGguf(bytes, { source: label });
    for (const t of file.tensors) {
      try {
        dequantize(file, t);
      } catch (error) {
        if (!isDistilleryError(error, 'E_UNSUPPORTED')) throw error;
      }
    }
    return 'ok';
  } catch (error) {
    if (!isDistilleryError(error) || !ALLOWED.has(error.code)) throw new Error(`${label}: ${String(error)}`, { cause: error });
    if (error.details.file !== label) throw new Error(`${label}: the error does not name the file: ${error.message}`);
    return error.code;
  }
}

describe('corrupt and truncated GGUF files', () => {
  it(`truncated at every offset of the first 2 KiB, 1,500 more of the header and metadata (${dataOffset} bytes) and 200 into the data: E_CORRUPT_FILE`, () => {
    const codes = new Map<string, number>();
    const spread = (n: number, from: number, to: number) =>
      Array.from({ length: n }, (_, i) => from + Math.floor(((i + 1) * (to - from)) / (n + 1)));
    const offsets = [
      ...Array.from({ length: 2048 }, (_, i) => i),
      ...spread(1500, 2048, dataOffset),
      dataOffset,
      ...spread(200, dataOffset, original.length),
    ];
    for (const n of offsets) {
      const code = attempt(original.subarray(0, n), `cut-at-${n}.gguf`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect([...codes]).toEqual([['E_CORRUPT_FILE', offsets.length]]);
  });

  it('2,000 files with 1–4 random bytes changed in the header, metadata and tensor infos never crash, hang or over-allocate', () => {
    const rng = new Rng(10);
    const codes = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const bytes = original.slice();
      const flips = 1 + rng.int(4);
      for (let k = 0; k < flips; k++) {
        const at = rng.int(dataOffset);
        // Half the changes write 0xff, which turns a count, a length or a type into a huge value.
        bytes[at] = rng.next() < 0.5 ? 0xff : rng.int(256);
      }
      const code = attempt(bytes, `flip-${i}.gguf`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    console.log('random byte changes:', Object.fromEntries(codes));
    // Most changes land in token strings (still a valid file); a good share must be caught.
    expect(codes.get('E_CORRUPT_FILE') ?? 0).toBeGreaterThan(200);
    expect(codes.get('ok') ?? 0).toBeGreaterThan(200);
  });

  const small = () =>
    writeGguf({
      metadata: { k: ggufValue.u32(7), 'general.alignment': ggufValue.u32(64), list: ggufValue.array(0, []) },
      tensors: [{ name: 'w', shape: [2, 32], type: 'F32', data: new Float32Array(64) }],
      alignment: 64,
    });
  const at = (bytes: Uint8Array, text: string) => {
    const needle = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i++) if (needle.every((b, j) => bytes[i + j] === b)) return i + needle.length;
    throw new Error(`no ${text}`);
  };
  const parse = (bytes: Uint8Array) => () => parseGguf(bytes, { source: 'x.gguf' });

  it('unknown value types, in a value and in an (empty) array, are E_CORRUPT_FILE naming the key', () => {
    const a = small();
    new DataView(a.buffer).setUint32(at(a, 'k'), 13, true);
    expect(parse(a)).toThrow(
      expect.objectContaining({ code: 'E_CORRUPT_FILE', message: expect.stringMatching(/metadata\["k"\] value type is 13/) }),
    );
    const b = small();
    new DataView(b.buffer).setUint32(at(b, 'list') + 4, 99, true);
    expect(parse(b)).toThrow(
      expect.objectContaining({ code: 'E_CORRUPT_FILE', message: expect.stringMatching(/metadata\["list"\] array item type is 99/) }),
    );
  });

  it('bad alignments (0, not a multiple of 8, not a number) are E_CORRUPT_FILE naming general.alignment', () => {
    for (const value of [0, 12]) {
      const bytes = small();
      new DataView(bytes.buffer).setUint32(at(bytes, 'general.alignment') + 4, value, true);
      expect(parse(bytes)).toThrow(
        expect.objectContaining({
          code: 'E_CORRUPT_FILE',
          details: expect.objectContaining({ field: 'metadata["general.alignment"]', value }),
        }),
      );
    }
    const asString = writeGguf({ metadata: { 'general.alignmenX': 'sixty-four' }, tensors: [] });
    asString[at(asString, 'general.alignmen')] = 't'.charCodeAt(0);
    expect(parse(asString)).toThrow(
      expect.objectContaining({
        code: 'E_CORRUPT_FILE',
        details: expect.objectContaining({ field: 'metadata["general.alignment"]', value: 'sixty-four' }),
      }),
    );
  });

  it('a tensor whose type has no dequantiser is E_UNSUPPORTED naming the tensor and the type; an unknown type id too', () => {
    const bytes = small();
    const typeAt = at(bytes, 'w') + 4 + 2 * 8;
    for (const [id, name] of [
      [14, 'Q6_K'],
      [3, 'Q4_1'],
      [77, 'type 77'],
    ] as const) {
      const copy = bytes.slice();
      new DataView(copy.buffer).setUint32(typeAt, id, true);
      let file: GgufFile;
      try {
        file = parseGguf(copy, { source: 'x.gguf' });
      } catch (error) {
        // Q6_K's rows are 256 values: a row of 32 is refused already by the parser.
        expect(error).toMatchObject({ code: 'E_CORRUPT_FILE', message: expect.stringContaining('"w"') });
        continue;
      }
      expect(() => dequantize(file, 'w')).toThrow(
        expect.objectContaining({
          code: 'E_UNSUPPORTED',
          message: expect.stringMatching(new RegExp(`"w".*${name}`)),
          details: expect.objectContaining({ value: name, field: 'tensors["w"].type' }),
        }),
      );
    }
    expect(dequantizableTypes()).toEqual(expect.arrayContaining(['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K']));
  });
});
