import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { Rng } from '@distillery/core';
import {
  dequantize,
  dequantizeBytes,
  ggufSpecOf,
  ggufValue,
  parseGguf,
  quantize,
  tensorBytes,
  writeGguf,
  type GgmlTypeName,
  type GgufFile,
  type GgufTensorSpec,
} from '../src/index.js';

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
    return {
      name: t.name,
      dims: t.dims,
      type: 'F32',
      data: dequantizeBytes(quantize(values, chosen, { rowLength: t.dims[0] }), chosen, values.length),
    };
  });
  return writeGguf(spec);
}

/** Mean and worst |Δ log p| over the tokens with log p > −10. */
function distance(x: Float64Array[], y: Float64Array[], positions: number): { mean: number; worst: number } {
  let sum = 0;
  let n = 0;
  let worst = 0;
  for (let t = 0; t < positions; t++) {
    for (let v = 0; v < x[t]!.length; v++) {
      if (x[t]![v]! <= -10) continue;
      const d = Math.abs(x[t]![v]! - y[t]![v]!);
      sum += d;
      n++;
      worst = Math.max(worst, d);
    }
  }
  return { mean: sum / n, worst };
}

/**
 * A random one-block Llama of width 256 with stories260K's tokenizer: Q4_K needs rows of 256, and
 * every row of stories260K is 64 or 172 long.
 */
function wideRandomLlama(type: GgmlTypeName, roundTripToF32: boolean): Uint8Array {
  const rng = new Rng(3);
  const width = 256;
  const metadata = new Map(original.entries);
  for (const [key, value] of Object.entries({
    'llama.embedding_length': width,
    'llama.feed_forward_length': width,
    'llama.block_count': 1,
    'llama.rope.dimension_count': 32,
  })) {
    metadata.set(key, ggufValue.u32(value));
  }
  const tensor = (name: string, shape: number[], std: number): GgufTensorSpec => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) return { name, shape, type: 'F32', data: values.fill(1) };
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    if (!roundTripToF32) return { name, shape, type, data: values };
    return { name, shape, type: 'F32', data: dequantizeBytes(quantize(values, type, { rowLength: shape[1] }), type, values.length) };
  };
  const s = 1.5 / Math.sqrt(width);
  return writeGguf({
    metadata,
    tensors: [
      tensor('token_embd.weight', [512, width], 1),
      tensor('output_norm.weight', [width], 0),
      tensor('output.weight', [512, width], s),
      tensor('blk.0.attn_norm.weight', [width], 0),
      tensor('blk.0.attn_q.weight', [width, width], s),
      tensor('blk.0.attn_k.weight', [width / 2, width], s),
      tensor('blk.0.attn_v.weight', [width / 2, width], s),
      tensor('blk.0.attn_output.weight', [width, width], s),
      tensor('blk.0.ffn_norm.weight', [width], 0),
      tensor('blk.0.ffn_gate.weight', [width, width], s),
      tensor('blk.0.ffn_up.weight', [width, width], s),
      tensor('blk.0.ffn_down.weight', [width, width], s),
    ],
  });
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
      const results = await context
        .getSequence()
        .controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true } }]) as never);
      return ids.map((_, t) => {
        const row = new Float64Array(512).fill(-Infinity);
        // Tokens below the top-k node-llama-cpp returns stay −inf; the comparisons skip log p ≤ −10.
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

  it("F32 → Q8_0: the written file is the shared Q8_0 file's tensors, loads, and writes the same story", async () => {
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
    const twinDistance = distance(a, b, ids.length);
    const quantisationDistance = distance(a, c, ids.length);
    console.log(
      `Q4_0 vs its F32 twin: mean ${twinDistance.mean.toFixed(4)}, worst ${twinDistance.worst.toFixed(4)}; Q4_0 vs F32: mean ${quantisationDistance.mean.toFixed(4)}, worst ${quantisationDistance.worst.toFixed(4)} (${ids.length} positions)`,
    );
    // Not exact: llama.cpp multiplies Q4_0 weights by activations it quantises to Q8_0 on the fly
    // (the same check on Q8_0, whose bytes equal llama.cpp's, gives mean 0.035 / worst 0.14).
    expect(twinDistance.mean).toBeLessThan(0.06);
    expect(twinDistance.worst).toBeLessThan(0.5);
    // A misread layout would land at least as far away as the quantisation error itself.
    expect(quantisationDistance.mean).toBeGreaterThan(10 * twinDistance.mean);
    const text = await greedy(q4, 30);
    expect(text.length).toBeGreaterThan(40);
  });

  it('Q4_K (a random width-256 Llama): llama.cpp on the Q4_K file agrees with llama.cpp on an F32 file of our dequantised Q4_K weights', async () => {
    const q4k = await load('wide-q4_k.gguf', wideRandomLlama('Q4_K', false));
    const twin = await load('wide-q4_k-as-f32.gguf', wideRandomLlama('Q4_K', true));
    // Calibration: the same model through Q4_0, whose reading llama.cpp confirmed above.
    const q40 = await load('wide-q4_0-as-f32.gguf', wideRandomLlama('Q4_0', true));
    const ids = q4k.tokenize(`${PROMPT}, there was a little girl named Lily. She loved to play outside in the park.`, true);
    const [a, b, c] = [await logprobs(q4k, ids), await logprobs(twin, ids), await logprobs(q40, ids)];
    const twinDistance = distance(a, b, ids.length);
    const otherQuantisation = distance(a, c, ids.length);
    console.log(
      `Q4_K vs its F32 twin: mean ${twinDistance.mean.toFixed(4)}, worst ${twinDistance.worst.toFixed(4)}; vs the Q4_0 twin: mean ${otherQuantisation.mean.toFixed(4)}, worst ${otherQuantisation.worst.toFixed(4)}`,
    );
    expect(twinDistance.mean).toBeLessThan(0.06);
    expect(otherQuantisation.mean).toBeGreaterThan(5 * twinDistance.mean);
  });
});
