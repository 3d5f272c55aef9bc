import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, isDistilleryError } from '@distillery/core';
import { ggufSpecOf, ggufValue, parseGguf, writeGguf, type GgufFile } from '@distillery/gguf';
import { readFloat32, uploadTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { huggingFaceName } from '../src/models/llama/huggingface.js';
import { LlamaLm } from '../src/models/llama/model.js';
import { llamaReference, logSoftmax } from '../src/models/llama/reference.js';
import { writeHuggingFaceFolder } from '../src/node.js';
import { sampleTokens } from '../src/sampling.js';
import { randn } from './helpers.js';
import { haveShared, LlamaCpp, STORIES260K, stories, worstLogprobDiff } from './llama-cpp.js';

const CONTEXT = 64;

async function gpuLogprobs(device: GPUDevice, model: LlamaLm, sequences: number[][]): Promise<Float64Array[][]> {
  const T = model.settings.context;
  const V = model.vocabSize;
  const ids = new Int32Array(sequences.length * T);
  sequences.forEach((s, b) => ids.set(s, b * T));
  const tokens = uploadTensor(device, { shape: [ids.length], dtype: 'i32', data: ids }, 'tokens');
  const logits = await readFloat32(await model.forward({ tokens, sequences: sequences.length }, { training: false }));
  tokens.release();
  return sequences.map((s, b) => s.map((_, t) => logSoftmax(logits.subarray((b * T + t) * V, (b * T + t + 1) * V))));
}

/** Loads `bytes` in node-llama-cpp and returns the worst |Δ log p| against the model over `sequences`. */
async function llamaCppWorst(
  device: GPUDevice,
  model: LlamaLm,
  bytes: Uint8Array,
  sequences: number[][],
  dir: string,
): Promise<{ worst: number; cpp: LlamaCpp }> {
  const path = join(dir, `model-${Math.random().toString(36).slice(2)}.gguf`);
  writeFileSync(path, bytes);
  const cpp = await LlamaCpp.load(path, { contextSize: CONTEXT });
  const ours = await gpuLogprobs(device, model, sequences);
  let worst = 0;
  for (const [b, s] of sequences.entries()) {
    const theirs = await cpp.logprobs(s, model.vocabSize);
    s.forEach((_, t) => (worst = Math.max(worst, worstLogprobDiff(ours[b]![t]!, theirs[t]!))));
  }
  return { worst, cpp };
}

function expectError(fn: () => unknown, code: string, details: Record<string, unknown>): void {
  try {
    fn();
  } catch (error) {
    expect(isDistilleryError(error, code as never), String(error)).toBe(true);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject(details);
    return;
  }
  throw new Error(`expected ${code}`);
}

gpuDescribe.skipIf(!haveShared)('LlamaLm export: GGUF round trip through llama.cpp, Hugging Face safetensors', () => {
  let teacher: GgufFile;
  let dir: string;
  let sequences: number[][];
  beforeAll(async () => {
    teacher = parseGguf(readFileSync(STORIES260K.F32), { source: STORIES260K.F32 });
    dir = mkdtempSync(join(tmpdir(), 'llama-export-'));
    const cpp = await LlamaCpp.load(STORIES260K.F32, { contextSize: CONTEXT });
    // Shorter than the context: node-llama-cpp shifts a full context, which would change the last rows.
    sequences = stories(8).map((s) => cpp.tokenize(s, CONTEXT - 16));
    await cpp.dispose();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  gpuTest('stories260K: fromGguf → toGguf → node-llama-cpp gives the same log-probabilities (1e-3) and greedy text', async ({ device }) => {
    const model = LlamaLm.fromGguf(device, teacher, { context: CONTEXT });
    const bytes = await model.toGguf();
    const { worst, cpp } = await llamaCppWorst(device, model, bytes, sequences, dir);
    console.log(`stories260K re-exported (F32): worst |Δ log p| vs llama.cpp = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-3);
    const bos = model.settings.bosToken;
    expect(await sampleTokens(model, [bos], { maxTokens: 40 })).toEqual(await cpp.greedy([bos], 40));
    await cpp.dispose();
    // The F16 / Q8_0 exports load too and write the same greedy text as our model of the exported file.
    for (const type of ['F16', 'Q8_0'] as const) {
      const exported = parseGguf(await model.toGguf({ type }), { source: `export-${type}` });
      expect(exported.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.typeName).toBe(type);
      expect(exported.tensors.find((t) => t.name === 'blk.0.ffn_norm.weight')!.typeName).toBe('F32');
      const reread = LlamaLm.fromGguf(device, exported, { context: CONTEXT });
      const path = join(dir, `export-${type}.gguf`);
      writeFileSync(path, exported.bytes);
      const other = await LlamaCpp.load(path, { contextSize: CONTEXT });
      expect(await sampleTokens(reread, [bos], { maxTokens: 40 }), type).toEqual(await other.greedy([bos], 40));
      await other.dispose();
      reread.release();
    }
    model.release();
  });

  gpuTest(
    'a random student (teacher tokenizer) → toGguf → node-llama-cpp: log-probabilities match its WebGPU forward (1e-3) and it writes text',
    async ({ device }) => {
      const student = LlamaLm.create(device, {
        vocab: 512,
        width: 32,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        ffn: 64,
        context: CONTEXT,
        rmsEps: 1e-5,
        seed: 11,
      });
      // Livelier weights than the 0.02 init, so the distributions are far from uniform.
      const state = await student.saveState();
      for (const [name, t] of Object.entries(state.tensors))
        if (!name.endsWith('norm.weight')) (t.data as Float32Array).set(randn(t.data.length, name.length, 0.15));
      await student.loadState(state);
      const bytes = await student.toGguf({ tokenizerFrom: teacher, name: 'student' });
      const { worst, cpp } = await llamaCppWorst(device, student, bytes, sequences, dir);
      console.log(`random student: worst |Δ log p| vs llama.cpp = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-3);
      const text = cpp.detokenize(await cpp.greedy([1], 24));
      expect(text.length).toBeGreaterThan(0);
      await cpp.dispose();
      student.release();
    },
  );

  gpuTest(
    'Hugging Face export: a float64 rotate_half reference on the exported safetensors gives the GPU logits; config.json; the folder is written atomically, not over an existing one',
    async ({ device }) => {
      const student = LlamaLm.create(device, {
        vocab: 40,
        width: 32,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        ffn: 48,
        context: 8,
        tiedHead: true,
        seed: 4,
      });
      const state = await student.saveState();
      for (const [name, t] of Object.entries(state.tensors))
        if (!name.endsWith('norm.weight')) (t.data as Float32Array).set(randn(t.data.length, name.length, 0.3));
      await student.loadState(state);
      const files = await student.toHuggingFace();
      const config = JSON.parse(files['config.json']) as Record<string, unknown>;
      expect(config).toMatchObject({
        architectures: ['LlamaForCausalLM'],
        hidden_size: 32,
        intermediate_size: 48,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        num_hidden_layers: 2,
        vocab_size: 40,
        tie_word_embeddings: true,
        max_position_embeddings: 8,
      });
      const { tensors } = decodeSafetensors(files['model.safetensors']);
      expect(Object.keys(tensors)).toContain('model.layers.1.self_attn.q_proj.weight');
      expect(Object.keys(tensors)).not.toContain('lm_head.weight');
      const weights = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, t.data as Float32Array]));
      const ids = [3, 1, 39, 7, 7, 20, 0, 12];
      const ours = (await gpuLogprobs(device, student, [ids]))[0]!;
      const hf = llamaReference(student.settings, weights, ids, { rope: 'half', rename: huggingFaceName }).logits;
      // The q/k permutation matters: without undoing it the HF-semantics forward would differ.
      let worst = 0;
      ids.forEach((_, t) => (worst = Math.max(worst, worstLogprobDiff(ours[t]!, logSoftmax(hf.subarray(t * 40, (t + 1) * 40))))));
      expect(worst).toBeLessThan(1e-4);
      const wrong = llamaReference(student.settings, weights, ids, { rope: 'norm', rename: huggingFaceName }).logits;
      expect(worstLogprobDiff(ours[7]!, logSoftmax(wrong.subarray(7 * 40, 8 * 40)))).toBeGreaterThan(1e-3);
      const folder = join(dir, 'hf');
      await writeHuggingFaceFolder(folder, files);
      expect(readFileSync(join(folder, 'config.json'), 'utf8')).toBe(files['config.json']);
      await expect(writeHuggingFaceFolder(folder, files)).rejects.toMatchObject({
        code: 'E_BAD_VALUE',
        details: { field: 'dir', value: folder },
      });
      await writeHuggingFaceFolder(folder, files, { overwrite: true });
      student.release();
    },
  );

  gpuTest(
    'bad input: architecture, tensor type, tokenizer, vocabulary, context, token ids — typed errors naming file, field and value',
    async ({ device }) => {
      const edited = (edit: (spec: ReturnType<typeof ggufSpecOf>) => void, source: string) => {
        const spec = ggufSpecOf(teacher);
        edit(spec);
        return parseGguf(writeGguf(spec), { source });
      };
      const gpt2 = edited((s) => s.metadata.set('general.architecture', ggufValue.string('gpt2')), 'gpt2.gguf');
      expectError(() => LlamaLm.fromGguf(device, gpt2), 'E_UNSUPPORTED', {
        file: 'gpt2.gguf',
        field: 'metadata["general.architecture"]',
        value: 'gpt2',
      });
      const i32 = edited((s) => {
        const t = s.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
        t.type = 'I32';
      }, 'i32.gguf');
      expectError(() => LlamaLm.fromGguf(device, i32, { context: 8 }), 'E_UNSUPPORTED', {
        file: 'i32.gguf',
        field: 'tensors["blk.0.attn_q.weight"].type',
        value: 'I32',
      });
      const bpe = edited((s) => s.metadata.set('tokenizer.ggml.model', ggufValue.string('gpt2')), 'bpe.gguf');
      expectError(() => LlamaLm.fromGguf(device, bpe), 'E_UNSUPPORTED', {
        file: 'bpe.gguf',
        field: 'metadata["tokenizer.ggml.model"]',
        value: 'gpt2',
      });
      expectError(() => LlamaLm.fromGguf(device, teacher, { context: 4096 }), 'E_BAD_VALUE', {
        file: STORIES260K.F32,
        field: 'context',
        value: 4096,
      });
      const student = LlamaLm.create(device, { vocab: 300, width: 16, layers: 1, heads: 2, kvHeads: 1, ffn: 16, context: 4 });
      await expect(student.toGguf({ tokenizerFrom: teacher })).rejects.toMatchObject({
        code: 'E_SHAPE_MISMATCH',
        details: { file: STORIES260K.F32, field: 'tokenizer.ggml.tokens', value: 512 },
      });
      await expect(student.toGguf()).rejects.toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'tokenizerFrom' } });
      const tokens = uploadTensor(device, { shape: [4], dtype: 'i32', data: Int32Array.from([1, 2, 300, 3]) }, 'tokens');
      await expect(student.forward({ tokens, sequences: 1 }, { training: false })).rejects.toMatchObject({
        code: 'E_BAD_VALUE',
        details: { field: 'tokens[2]', value: 300 },
      });
      student.release();
    },
  );
});
