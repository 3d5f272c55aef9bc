import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { dequantize, dequantizeBytes, ggufSpecOf, parseGguf, quantize, tensorBytes, writeGguf, type GgmlTypeName, type GgufFile } from '../src/index.js';

/*
 * The independent check of the writer and the quantisers: llama.cpp (node-llama-cpp, CPU, 1 thread)
 * loads the files written here and runs them.
 */
const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
const original = parseGguf(readFileSync(models + 'stories260K.gguf'), { source: 'stories260K.gguf' });
const PROMPT = 'Once upon a time';

/** The F32 model with its 2-D weights re-encoded as `type` where their rows are whole blocks (F16 otherwise, like llama-quantize). */
function reencode(file: GgufFile, type: GgmlTypeName, roundTripToF32 = false): Uint8Array {
  const spec = ggufSpecOf(file);
  spec.tensors = file.tensors.map((t) => {
    const values = dequantize(file, t);
    if (t.dims.length < 2) return { name: t.name, dims: t.dims, type: 'F32', data: values };
    const chosen: GgmlTypeName = t.dims[0]! % 32 === 0 || type === 'F16' ? type : 'F16';
    if (!roundTripToF32) return { name: t.name, dims: t.dims, type: chosen, data: values };
    // The same weights llama.cpp sees in the quantised file, as F32: what our dequantiser says they are.
    return { name: t.name, dims: t.dims, type: 'F32', data: dequantizeBytes(quantize(values, chosen, { rowLength: t.dims[0] }), chosen, values.length) };
  });
  return writeGguf(spec);
}

describe('files written by writeGguf run in llama.cpp (node-llama-cpp 3.21.1)', () => {
  let llama: Llama;
  let dir: string;
  const loaded: LlamaModel[] = [];

  beforeAll(async () => {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    dir = mkdtempSync(join(tmpdir(), 'distillery-gguf-'));
  });
  afterAll(async () => {
    for (const m of loaded) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function load(name: string, bytes: Uint8Array): Promise<LlamaModel> {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const model = await llama.loadModel({ modelPath: path });
    loaded.push(model);
    return model;
  }

  async function greedy(model: LlamaModel, maxTokens: number): Promise<string> {
    const { LlamaCompletion } = await import('node-llama-cpp');
    const context = await model.createContext({ contextSize: 128, threads: 1 });
    try {
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      return await completion.generateCompletion(PROMPT, { maxTokens, temperature: 0 });
    } finally {
      await context.dispose();
    }
  }

  /** Next-token log-probabilities after every prefix of `ids` (full vocabulary). */
  async function logprobs(model: LlamaModel, ids: number[]): Promise<Float64Array[]> {
    const context = await model.createContext({ contextSize: 128, threads: 1 });
    try {
      const results = await context.getSequence().controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true } }]) as never);
      return ids.map((_, t) => {
        const row = new Float64Array(512).fill(-Infinity);
        for (const [id, p] of results[t]!.next!.probabilities!) row[id] = Math.log(p);
        return row;
      });
    } finally {
      await context.dispose();
    }
  }

  it('F32 → F16: the written file generates the same greedy text as the original for 30 tokens', async () => {
    const reference = await greedy(await load('f32.gguf', writeGguf(ggufSpecOf(original))), 30);
    const f16 = await greedy(await load('f16.gguf', reencode(original, 'F16')), 30);
    expect(reference).toMatch(/^, there was a little girl named Lily/);
    expect(f16).toBe(reference);
  });

  it('F32 → Q8_0: the written file is the shared Q8_0 file\'s tensors, loads, and writes the same story', async () => {
    const bytes = reencode(original, 'Q8_0');
    const shared = parseGguf(readFileSync(models + 'stories260K-q8_0.gguf'));
    const written = parseGguf(bytes);
    for (const t of shared.tensors) expect(Buffer.compare(tensorBytes(written, t.name), tensorBytes(shared, t)), t.name).toBe(0);
    const text = await greedy(await load('q8_0.gguf', bytes), 30);
    expect(text).toMatch(/^, there was a little girl named Lily/);
  });

  it('F32 → Q4_0: llama.cpp on the Q4_0 file agrees with llama.cpp on an F32 file of our dequantised Q4_0 weights', async () => {
    const q4 = await load('q4_0.gguf', reencode(original, 'Q4_0'));
    const twin = await load('q4_0-as-f32.gguf', reencode(original, 'Q4_0', true));
    const f32 = await load('f32-again.gguf', writeGguf(ggufSpecOf(original)));
    const ids = q4.tokenize(`${PROMPT}, there was a little girl named Lily. She loved to play outside in the park.`, true);
    const [a, b, c] = [await logprobs(q4, ids), await logprobs(twin, ids), await logprobs(f32, ids)];
    /** Mean and worst |Δ log p| over the tokens with log p > −10. */
    const distance = (x: Float64Array[], y: Float64Array[]) => {
      let sum = 0;
      let n = 0;
      let worst = 0;
      for (let t = 0; t < ids.length; t++) {
        for (let v = 0; v < 512; v++) {
          if (x[t]![v]! <= -10) continue;
          const d = Math.abs(x[t]![v]! - y[t]![v]!);
          sum += d;
          n++;
          worst = Math.max(worst, d);
        }
      }
      return { mean: sum / n, worst };
    };
    const twinDistance = distance(a, b);
    const quantisationDistance = distance(a, c);
    console.log(`Q4_0 vs its F32 twin: mean ${twinDistance.mean.toFixed(4)}, worst ${twinDistance.worst.toFixed(4)}; Q4_0 vs F32: mean ${quantisationDistance.mean.toFixed(4)}, worst ${quantisationDistance.worst.toFixed(4)} (${ids.length} positions)`);
    // Not exact: llama.cpp multiplies Q4_0 weights by activations it quantises to Q8_0 on the fly
    // (the same check on Q8_0, whose bytes equal llama.cpp's, gives mean 0.035 / worst 0.14).
    expect(twinDistance.mean).toBeLessThan(0.06);
    expect(twinDistance.worst).toBeLessThan(0.5);
    // A misread layout would land at least as far away as the quantisation error itself.
    expect(quantisationDistance.mean).toBeGreaterThan(10 * twinDistance.mean);
    const text = await greedy(q4, 30);
    expect(text.length).toBeGreaterThan(40);
  });
});
