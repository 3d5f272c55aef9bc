import { constant, Distiller, Rng, type ModelState } from '@distillery/core';
import { readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { CpuCrossEntropy } from './classification.js';
import { finiteDifferenceCheck, probe, randn, sampleIndices, upload, uploadI32 } from './helpers.js';
import { AdamW } from '../src/optim/adamw.js';
import { CharTokenizer } from '../src/tokenizer.js';
import { TransformerLm, type LmBatch, type TransformerConfig } from '../src/models/transformer.js';

const corpus = 'the quick brown fox jumps over the lazy dog. '.repeat(12);

gpuDescribe('TransformerLm', () => {
  gpuTest('gradient check: backward agrees with finite differences for every parameter tensor (dropout on)', async ({ device }) => {
    const tokenizer = CharTokenizer.fromText('abcdefg');
    const config: TransformerConfig = {
      tokenizer: tokenizer.toJSON(),
      context: 4,
      width: 8,
      heads: 2,
      layers: 2,
      mlpRatio: 2,
      dropout: 0.2,
      seed: 7,
    };
    const model = TransformerLm.create(device, config);
    // Larger weights than GPT-2's 0.02 so every path carries a gradient well above f32 noise.
    const state: ModelState = await model.saveState();
    for (const [name, t] of Object.entries(state.tensors)) {
      if (name.endsWith('.weight') && !name.includes('ln')) (t.data as Float32Array).set(randn(t.data.length, name.length, 0.4));
    }
    const sequences = 2;
    const tokens = uploadI32(device, Array.from(tokenizer.encode('badgecafe')).slice(0, 8), 'tokens');
    const r = randn(8 * model.vocabSize, 3);
    const loss = async () => {
      await model.loadState(state);
      return probe(await readFloat32(await model.forward({ tokens, sequences }, { training: true })), r);
    };
    await loss();
    model.zeroGrad();
    await model.backward(upload(device, r, [8, model.vocabSize], 'r'));
    const failures: string[] = [];
    for (const p of model.parameters()) {
      const values = state.tensors[p.name]!.data as Float32Array;
      const grad = await readFloat32(p.grad);
      const check = await finiteDifferenceCheck({
        x: values,
        grad,
        loss,
        indices: sampleIndices(values.length, 3, p.name.length),
        eps: 1e-2,
        atol: 2e-3,
        rtol: 2e-2,
      });
      if (check.worst > 1) failures.push(`${p.name}: ${check.details.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });

  gpuTest(
    'forwardHidden + backwardFromHidden (no logits) give the same ln_f and the same gradients as forward + backward through the head',
    async ({ device }) => {
      const tokenizer = CharTokenizer.fromText('abcdefg');
      const model = TransformerLm.create(device, {
        tokenizer: tokenizer.toJSON(),
        context: 4,
        width: 8,
        heads: 2,
        layers: 2,
        mlpRatio: 2,
        dropout: 0.2,
        seed: 5,
      });
      const state = await model.saveState();
      const tokens = uploadI32(device, Array.from(tokenizer.encode('gabcdefa')), 'tokens');
      const V = model.vocabSize;
      const R = 8;
      const D = 8;
      const dLogits = randn(R * V, 11);
      const dBlock = randn(R * D, 12);
      const dFinal = randn(R * D, 13);
      const hidden = () => ({ 'blocks.0': upload(device, dBlock, [R, D], 'd.blocks.0'), ln_f: upload(device, dFinal, [R, D], 'd.ln_f') });
      await model.forward({ tokens, sequences: 2 }, { training: true });
      const lnf = await readFloat32(model.hiddenStates(['ln_f'], { training: true }).ln_f!);
      model.zeroGrad();
      await model.backward(upload(device, dLogits, [R, V], 'dlogits'), { hidden: hidden() });
      const want = new Map<string, Float32Array>();
      for (const p of model.parameters()) want.set(p.name, await readFloat32(p.grad));

      // Same dropout stream as the first forward: reload the state (and its rngStep).
      await model.loadState(state);
      expect(model.headWeight.name).toBe('head.weight');
      expect(model.headWeight.value.shape).toEqual([V, D]);
      const hf = await model.forwardHidden({ tokens, sequences: 2 }, { training: true });
      expect(hf.shape).toEqual([R, D]);
      expect(Array.from(await readFloat32(hf))).toEqual(Array.from(lnf));
      // d ln_f = dlogits · W, written out on the host.
      const W = state.tensors['head.weight']!.data as Float32Array;
      const dHidden = new Float32Array(R * D);
      for (let r = 0; r < R; r++)
        for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) dHidden[r * D + d]! += dLogits[r * V + v]! * W[v * D + d]!;
      model.zeroGrad();
      await model.backwardFromHidden(upload(device, dHidden, [R, D], 'dhf'), { hidden: hidden() });
      for (const p of model.parameters()) {
        const got = await readFloat32(p.grad);
        const expected = p.name === 'head.weight' ? new Float32Array(got.length) : want.get(p.name)!;
        const scale = Math.max(1e-6, ...expected.map(Math.abs));
        const worst = Math.max(...got.map((g, i) => Math.abs(g - expected[i]!)));
        expect(worst, p.name).toBeLessThanOrEqual(1e-4 * scale);
      }
      await expect(model.backwardFromHidden(upload(device, new Float32Array(R * (D + 1)), [R, D + 1], 'g'))).rejects.toMatchObject({
        code: 'E_SHAPE_MISMATCH',
        details: { field: 'g' },
      });
    },
  );

  gpuTest('learns a character corpus through the Distiller and continues it greedily', async ({ device }) => {
    const tokenizer = CharTokenizer.fromText(corpus);
    const context = 16;
    const model = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context, width: 32, heads: 4, layers: 2, seed: 1 });
    const ids = tokenizer.encode(corpus);
    const sequences = 8;
    let live: GpuTensor[] = [];
    const data = {
      batchesPerEpoch: 25,
      async batch(epoch: number, index: number): Promise<LmBatch> {
        for (const t of live) t.release();
        const x = new Int32Array(sequences * context);
        const y = new Int32Array(sequences * context);
        for (let s = 0; s < sequences; s++) {
          const start = (epoch * 131 + index * 37 + s * 53) % (ids.length - context - 1);
          x.set(ids.subarray(start, start + context), s * context);
          y.set(ids.subarray(start + 1, start + context + 1), s * context);
        }
        const tokens = uploadTensor(device, { shape: [x.length], dtype: 'i32', data: x }, 'tokens');
        const labels = uploadTensor(device, { shape: [y.length], dtype: 'i32', data: y }, 'labels');
        live = [tokens, labels];
        return { tokens, labels, sequences };
      },
    };
    const losses: number[] = [];
    const distiller = new Distiller({
      student: model,
      loss: new CpuCrossEntropy(),
      optimizer: new AdamW({ weightDecay: 0, clipNorm: 1 }),
      data,
      labels: (b) => b.labels,
      epochs: 4,
      schedules: { lr: constant(3e-3) },
    });
    distiller.on('step', (e) => losses.push(e.loss));
    await distiller.run({ resume: false });
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
    expect(first).toBeGreaterThan(2.5);
    expect(last).toBeLessThan(0.5);
    expect(await model.generate('the quick brown ', { maxTokens: 9 })).toBe('fox jumps');
  });

  gpuTest(
    'generate at T > 0 draws each token from softmax(logits / T) with Rng(seed): equal to a host draw over the model logits',
    async ({ device }) => {
      const tokenizer = CharTokenizer.fromText('abcdefgh');
      const model = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context: 4, width: 8, heads: 2, layers: 1, seed: 5 });
      // Weights large enough that the logits are far from uniform, so a wrong draw changes the text.
      const state = await model.saveState();
      for (const [name, t] of Object.entries(state.tensors))
        if (name.endsWith('.weight') && !name.includes('ln')) (t.data as Float32Array).set(randn(t.data.length, name.length, 0.8));
      await model.loadState(state);
      const expected = async (prompt: string, maxTokens: number, temperature: number, seed: number): Promise<string> => {
        const rng = new Rng(seed);
        const ids = Array.from(tokenizer.encode(prompt));
        const start = ids.length;
        for (let n = 0; n < maxTokens; n++) {
          const window = ids.slice(-4);
          const used = window.length;
          while (window.length < 4) window.push(0);
          const tokens = uploadI32(device, window, 'window');
          const logits = Array.from(await readFloat32(await model.forward({ tokens, sequences: 1 }, { training: false })));
          tokens.release();
          const row = logits.slice((used - 1) * model.vocabSize, used * model.vocabSize).map((z) => z / temperature);
          const max = Math.max(...row);
          const w = row.map((z) => Math.exp(z - max));
          let u = rng.next() * w.reduce((a, b) => a + b, 0);
          const next = w.findIndex((x) => (u -= x) < 0);
          ids.push(next < 0 ? row.length - 1 : next);
        }
        return tokenizer.decode(ids.slice(start));
      };
      const texts = new Set<string>();
      for (const [prompt, seed] of [
        ['ab', 1],
        ['cdefgh', 2],
        ['h', 3],
      ] as const) {
        const text = await model.generate(prompt, { maxTokens: 12, temperature: 1.5, seed });
        expect(text).toBe(await expected(prompt, 12, 1.5, seed));
        expect(await model.generate(prompt, { maxTokens: 12, temperature: 1.5, seed })).toBe(text);
        texts.add(text);
      }
      expect(texts.size).toBe(3);
      await expect(model.generate('')).rejects.toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'prompt' } });
    },
  );

  gpuTest('bad input is a typed error', async ({ device }) => {
    expect(() => TransformerLm.create(device, { tokenizer: { kind: 'byte' }, context: 4, width: 10, heads: 3, layers: 1 })).toThrowError(
      /heads/,
    );
    const model = TransformerLm.create(device, { tokenizer: { kind: 'byte' }, context: 4, width: 8, heads: 2, layers: 1 });
    expect(model.vocabSize).toBe(256);
    await expect(model.forward({ tokens: uploadI32(device, [1, 2, 3], 't'), sequences: 1 }, { training: false })).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
    });
    await expect(model.backward(upload(device, new Float32Array(4 * 256), [4, 256], 'g'))).rejects.toMatchObject({ code: 'E_BAD_VALUE' });
  });
});
