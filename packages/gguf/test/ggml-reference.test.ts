import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@distillery/core';
import { dequantize, dequantizeBytes, parseGguf, quantize, type GgmlTypeName } from '../src/index.js';

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
if (!library || !python)
  console.warn(
    `skipping the byte comparison with llama.cpp's quantisers: ${library ? 'no python3' : 'no linux-x64 libggml-base.so from node-llama-cpp'}`,
  );

const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
const script = fileURLToPath(new URL('./ggml_ref.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'distillery-ggml-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Job {
  mode: 'quantize' | 'dequantize';
  type: GgmlTypeName;
  elements: number;
  input: Uint8Array;
}

/** Runs the jobs through llama.cpp's functions in one Python process; returns each job's output bytes. */
function ggml(jobs: Job[]): Uint8Array[] {
  const args = jobs.map((job, i) => {
    const inPath = join(dir, `in-${i}.bin`);
    writeFileSync(inPath, job.input);
    return `${job.mode}:${job.type}:${job.elements}:${inPath}:${join(dir, `out-${i}.bin`)}`;
  });
  execFileSync('python3', [script, library!, ...args]);
  return jobs.map((_, i) => new Uint8Array(readFileSync(join(dir, `out-${i}.bin`))));
}

const bytesOf = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

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
  // Every fourth 256-value stretch of the weights keeps the test quick (≈ 73 k values).
  const real = Float32Array.from(weights.filter((_, i) => (i >> 8) % 4 === 0 && i >> 8 < Math.floor(weights.length / 256)));

  // Halfway cases, subnormals, overflow, ±0, ±inf and NaN for the float conversions.
  const edges = new Float32Array(256);
  [
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    65519,
    65520,
    1e6,
    -1e-8,
    2 ** -25,
    3 * 2 ** -26,
    2 ** -14 * 1.5,
    -0,
    Infinity,
    -Infinity,
    NaN,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    3.4e38,
  ].forEach((v, i) => (edges[i] = v));
  for (let i = 16; i < 256; i++) edges[i] = (rng.normal() * 2 ** rng.int(40)) / 2 ** 20;

  for (const [type, blockBytes] of [
    ['F16', 2],
    ['BF16', 2],
    ['Q8_0', 34],
    ['Q4_0', 18],
    ['Q4_K', 144],
  ] as const) {
    it(`${type}: quantize gives llama.cpp's bytes and dequantizeBytes its floats, on synthetic values and stories260K's 2-D weights`, () => {
      const inputs = type === 'F16' || type === 'BF16' ? [edges, synthetic, real] : [synthetic, real];
      const ours = inputs.map((values) => quantize(values, type));
      // Their quantiser on our inputs; their dequantiser on our bytes (equal to theirs, or the test fails anyway).
      const outputs = ggml([
        ...inputs.map((values) => ({ mode: 'quantize' as const, type, elements: values.length, input: bytesOf(values) })),
        ...inputs.map((values, i) => ({ mode: 'dequantize' as const, type, elements: values.length, input: ours[i]! })),
      ]);
      inputs.forEach((values, i) => {
        const theirs = outputs[i]!;
        expect(ours[i]!.length).toBe(theirs.length);
        expect(differingBlocks(ours[i]!, theirs, blockBytes), `${type}: blocks that differ of ${theirs.length / blockBytes}`).toBe(0);
        const decoded = outputs[inputs.length + i]!;
        expect(
          differingBlocks(bytesOf(dequantizeBytes(ours[i]!, type, values.length)), decoded, 4),
          `${type}: dequantised values that differ`,
        ).toBe(0);
      });
    });
  }
});
