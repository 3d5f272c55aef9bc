import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@distillery/core';
import { dequantize, parseGguf, quantize, type GgmlTypeName } from '../src/index.js';

/*
 * Byte-for-byte against llama.cpp's own quantisers: node-llama-cpp's prebuilt libggml-base.so exports
 * quantize_row_{q8_0,q4_0,q4_K}_ref (what llama-quantize runs without an importance matrix); Python's
 * ctypes calls them (test/ggml_ref.py). Skipped, with a warning, where there is no linux-x64 prebuilt
 * or no python3.
 */
function findLibrary(): string | undefined {
  try {
    // The package exports only its entry: go from <root>/dist/index.js up to <root>.
    const root = dirname(dirname(createRequire(import.meta.url).resolve('@node-llama-cpp/linux-x64')));
    for (const build of readdirSync(join(root, 'bins'))) {
      const lib = join(root, 'bins', build, 'libggml-base.so');
      if (existsSync(lib)) return lib;
    }
  } catch {
    // not installed on this platform
  }
  return undefined;
}
const library = findLibrary();
const python = (() => {
  try {
    execFileSync('python3', ['-c', 'import ctypes'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!library || !python) console.warn(`skipping the byte comparison with llama.cpp's quantisers: ${library ? 'no python3' : 'no linux-x64 libggml-base.so from node-llama-cpp'}`);

const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
const script = fileURLToPath(new URL('./ggml_ref.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'distillery-ggml-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ggmlQuantize(values: Float32Array, type: GgmlTypeName): Uint8Array {
  const input = join(dir, 'in.f32');
  const output = join(dir, 'out.bin');
  writeFileSync(input, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  execFileSync('python3', [script, library!, type, input, output]);
  return new Uint8Array(readFileSync(output));
}

function differingBlocks(a: Uint8Array, b: Uint8Array, blockBytes: number): number {
  let n = 0;
  for (let at = 0; at < a.length; at += blockBytes) {
    for (let k = 0; k < blockBytes; k++) {
      if (a[at + k] !== b[at + k]) {
        n++;
        break;
      }
    }
  }
  return n;
}

describe.skipIf(!library || !python)("quantize() is byte-identical to llama.cpp's reference quantisers", () => {
  const rng = new Rng(5);
  // Gaussian with 1 % outliers ×20, an all-zero and a constant stretch; then stories260K's real weights.
  const synthetic = new Float32Array(256 * 32).map(() => rng.normal() * 0.05 * (rng.next() < 0.01 ? 20 : 1));
  synthetic.fill(0, 512, 1024);
  synthetic.fill(0.3, 1024, 1056);
  const model = parseGguf(readFileSync(models + 'stories260K.gguf'));
  const weights: number[] = [];
  for (const t of model.tensors) if (t.dims.length === 2) weights.push(...dequantize(model, t));
  const real = Float32Array.from(weights.slice(0, Math.floor(weights.length / 256) * 256));

  for (const [type, blockBytes] of [
    ['Q8_0', 34],
    ['Q4_0', 18],
    ['Q4_K', 144],
  ] as const) {
    it(`${type}: synthetic values and all of stories260K's 2-D weights`, () => {
      for (const values of [synthetic, real]) {
        const theirs = ggmlQuantize(values, type);
        const ours = quantize(values, type);
        expect(ours.length).toBe(theirs.length);
        expect(differingBlocks(ours, theirs, blockBytes), `${type}: blocks that differ of ${theirs.length / blockBytes}`).toBe(0);
      }
    });
  }
});
