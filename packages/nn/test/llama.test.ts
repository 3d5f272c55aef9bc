import type { ModelState } from '@distillery/core';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import type { LlamaConfig } from '../src/models/llama/config.js';
import { LlamaLm } from '../src/models/llama/model.js';
import { llamaReference } from '../src/models/llama/reference.js';
import { AdamW } from '../src/optim/adamw.js';
import { finiteDifferenceCheck, probe, randn, sampleIndices, upload, uploadI32 } from './helpers.js';

// heads ≠ kvHeads (GQA), ropeDims < head width (partial rotation), untied head.
const SMALL: LlamaConfig = {
  vocab: 11,
  width: 16,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  ffn: 24,
  ropeDims: 2,
  ropeBase: 100,
  context: 6,
  seed: 3,
};
const TINY: LlamaConfig = { vocab: 7, width: 8, layers: 2, heads: 2, kvHeads: 1, ffn: 12, context: 4, seed: 5 };

/** Weights scaled up from the 0.02 init so every path carries signal well above f32 noise, gains away from 1. */
async function livelyState(model: LlamaLm): Promise<ModelState> {
  const state = await model.saveState();
  for (const [name, t] of Object.entries(state.tensors)) {
    const data = t.data as Float32Array;
    if (name.endsWith('norm.weight')) data.set(randn(data.length, name.length + 1, 0.2).map((v) => 1 + v));
    else data.set(randn(data.length, name.length, 0.4));
  }
  await model.loadState(state);
  return state;
}

function hostWeights(state: ModelState): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(state.tensors).map(([n, t]) => [n, t.data as Float32Array]));
}

gpuDescribe('LlamaLm', () => {
  gpuTest('forward and hidden states match the float64 reference (GQA, partial rope, 2 sequences)', async ({ device }) => {
    const model = LlamaLm.create(device, SMALL);
    const state = await livelyState(model);
    const s = model.settings;
    const ids = [1, 4, 9, 2, 10, 0, 3, 3, 7, 5, 8, 6];
    const tokens = uploadI32(device, ids, 'tokens');
    const logits = await readFloat32(await model.forward({ tokens, sequences: 2 }, { training: false }));
    const hidden = model.hiddenStates(['blocks.0', 'norm'], { training: false });
    const block0 = await readFloat32(hidden['blocks.0']!);
    const norm = await readFloat32(hidden.norm!);
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      const ref = llamaReference(s, hostWeights(state), ids.slice(b * 6, b * 6 + 6));
      for (let i = 0; i < 6 * s.vocab; i++)
        worst = Math.max(worst, Math.abs(logits[b * 6 * s.vocab + i]! - ref.logits[i]!) / (1e-4 + 1e-4 * Math.abs(ref.logits[i]!)));
      for (let t = 0; t < 6; t++) {
        for (let i = 0; i < s.width; i++) {
          const r = (b * 6 + t) * s.width + i;
          worst = Math.max(worst, Math.abs(block0[r]! - ref.blocks[0]![t]![i]!) / 1e-4, Math.abs(norm[r]! - ref.norm[t]![i]!) / 1e-4);
        }
      }
    }
    expect(worst).toBeLessThan(1);
    model.release();
  });

  for (const tiedHead of [false, true]) {
    gpuTest(
      `backward agrees with finite differences for a sample of every parameter, with hidden-state gradients (tiedHead ${tiedHead})`,
      async ({ device }) => {
        const model = LlamaLm.create(device, { ...TINY, tiedHead });
        const state = await livelyState(model);
        const R = 8;
        const D = 8;
        const tokens = uploadI32(device, [1, 3, 0, 6, 2, 2, 5, 4], 'tokens');
        const r = randn(R * model.vocabSize, 3);
        const rBlock = randn(R * D, 4);
        const rNorm = randn(R * D, 6);
        // loss = Σ r⊙logits + Σ rBlock⊙blocks.0 + Σ rNorm⊙norm
        const loss = async () => {
          await model.loadState(state);
          const logits = await readFloat32(await model.forward({ tokens, sequences: 2 }, { training: true }));
          const h = model.hiddenStates(['blocks.0', 'norm'], { training: true });
          return probe(logits, r) + probe(await readFloat32(h['blocks.0']!), rBlock) + probe(await readFloat32(h.norm!), rNorm);
        };
        await loss();
        model.zeroGrad();
        await model.backward(upload(device, r, [R, model.vocabSize], 'r'), {
          hidden: { 'blocks.0': upload(device, rBlock, [R, D], 'rb'), norm: upload(device, rNorm, [R, D], 'rn') },
        });
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
            atol: 3e-3,
            rtol: 2e-2,
          });
          if (check.worst > 1) failures.push(`${p.name}: ${check.details.join('; ')}`);
        }
        expect(failures).toEqual([]);
        model.release();
      },
    );
  }

  gpuTest(
    'forwardHidden + backwardFromHidden give the same norm and the same gradients (but the head) as forward + backward',
    async ({ device }) => {
      const model = LlamaLm.create(device, TINY);
      await livelyState(model);
      const R = 8;
      const V = model.vocabSize;
      const tokens = uploadI32(device, [1, 3, 0, 6, 2, 2, 5, 4], 'tokens');
      const dLogits = randn(R * V, 11);
      await model.forward({ tokens, sequences: 2 }, { training: true });
      const norm = await readFloat32(model.hiddenStates(['norm'], { training: true }).norm!);
      model.zeroGrad();
      await model.backward(upload(device, dLogits, [R, V], 'dlogits'));
      const want = new Map<string, Float32Array>();
      for (const p of model.parameters()) want.set(p.name, await readFloat32(p.grad));
      // d norm = dLogits · W_head, computed on the host.
      const head = await readFloat32(model.headWeight.value);
      const dNorm = new Float32Array(R * 8);
      for (let r = 0; r < R; r++)
        for (let v = 0; v < V; v++) for (let i = 0; i < 8; i++) dNorm[r * 8 + i]! += dLogits[r * V + v]! * head[v * 8 + i]!;
      expect(Array.from(await readFloat32(await model.forwardHidden({ tokens, sequences: 2 }, { training: true })))).toEqual(
        Array.from(norm),
      );
      model.zeroGrad();
      await model.backwardFromHidden(upload(device, dNorm, [R, 8], 'dnorm'));
      for (const p of model.parameters()) {
        if (p === model.headWeight) continue;
        const got = await readFloat32(p.grad);
        const w = want.get(p.name)!;
        for (let i = 0; i < w.length; i++) expect(Math.abs(got[i]! - w[i]!), p.name).toBeLessThan(1e-4 + 1e-3 * Math.abs(w[i]!));
      }
      model.release();
    },
  );

  gpuTest('save/load: AdamW steps, save, reload into a fresh model, continue == uninterrupted, bit for bit', async ({ device }) => {
    const tokens = uploadI32(device, [1, 3, 0, 6, 2, 2, 5, 4], 'tokens');
    const r = randn(8 * TINY.vocab, 9);
    const step = async (model: LlamaLm, opt: AdamW) => {
      await model.forward({ tokens, sequences: 2 }, { training: true });
      model.zeroGrad();
      await model.backward(upload(device, r, [8, TINY.vocab], 'r'));
      await opt.step(model.parameters(), 1e-2);
    };
    const a = LlamaLm.create(device, TINY);
    const optA = new AdamW({ weightDecay: 0.1 });
    for (let i = 0; i < 3; i++) await step(a, optA);
    const saved = await a.saveState();
    const savedOpt = await optA.saveState();
    for (let i = 0; i < 3; i++) await step(a, optA);
    const b = await LlamaLm.fromState(device, saved);
    const optB = new AdamW({ weightDecay: 0.1 });
    await optB.loadState(savedOpt);
    for (let i = 0; i < 3; i++) await step(b, optB);
    const wa = await a.weights();
    const wb = await b.weights();
    for (const name of Object.keys(wa)) expect(Array.from(wb[name]!), name).toEqual(Array.from(wa[name]!));
    a.release();
    b.release();
  });
});
