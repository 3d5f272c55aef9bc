import type { ModelState } from '@distillery/core';
import { readFloat32, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { finiteDifferenceCheck, probe, randn, sampleIndices, upload, uploadI32 } from './helpers.js';
import { asTeacher } from '../src/teacher.js';
import { CharTokenizer } from '../src/tokenizer.js';
import { MlpClassifier, type MlpConfig } from '../src/models/mlp.js';
import { TransformerLm, type TransformerConfig } from '../src/models/transformer.js';

/**
 * The probe loss Σ R ⊙ logits + Σ_name S_name ⊙ hidden[name]: its gradient w.r.t. the logits is R
 * and w.r.t. each hidden state S_name, so `backward(R, { hidden: S })` must equal its finite differences.
 */
async function probeWithHidden(
  logits: GpuTensor,
  hidden: Record<string, GpuTensor>,
  r: Float32Array,
  s: Record<string, Float32Array>,
): Promise<number> {
  let total = probe(await readFloat32(logits), r);
  for (const [name, t] of Object.entries(hidden)) total += probe(await readFloat32(t), s[name]!);
  return total;
}

async function checkEveryParameter(
  parameters: readonly { name: string; grad: GpuTensor }[],
  state: ModelState,
  loss: () => Promise<number>,
  options: { eps: number; atol: number; rtol: number; samples: number },
): Promise<string[]> {
  const failures: string[] = [];
  for (const p of parameters) {
    const values = state.tensors[p.name]!.data as Float32Array;
    const grad = await readFloat32(p.grad);
    const check = await finiteDifferenceCheck({
      x: values,
      grad,
      loss,
      indices: sampleIndices(values.length, options.samples, p.name.length),
      ...options,
    });
    if (check.worst > 1) failures.push(`${p.name}: ${check.details.join('; ')}`);
  }
  return failures;
}

gpuDescribe('hidden states', () => {
  gpuTest('MLP: names, widths and tensors of hidden.i; unknown names list the known ones', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 8, hidden: [12, 8], classes: 4, seed: 3 });
    expect(model.hiddenStateWidths()).toEqual({ 'hidden.0': 12, 'hidden.1': 8 });
    expect(() => model.hiddenStates(['hidden.0'], { training: false })).toThrowError(/needs a forward with training: false/);
    await model.forward({ inputs: upload(device, randn(3 * 8, 1), [3, 8], 'x'), rows: 3 }, { training: false });
    const states = model.hiddenStates(['hidden.1'], { training: false });
    expect(states['hidden.1']!.shape).toEqual([3, 8]);
    expect(() => model.hiddenStates(['hidden.2'], { training: false })).toThrowError(
      'names: mlp-classifier has no hidden state "hidden.2"; it has hidden.0, hidden.1',
    );
    const teacher = asTeacher(model);
    expect(teacher.hiddenStateWidths?.()).toEqual({ 'hidden.0': 12, 'hidden.1': 8 });
  });

  gpuTest('MLP backward with hidden-state gradients agrees with finite differences (GELU, dropout and jitter on)', async ({ device }) => {
    const rows = 5;
    const config: MlpConfig = { inputSize: 8, hidden: [12, 8], classes: 4, activation: 'gelu', dropout: 0.25, inputJitter: 0.1, seed: 3 };
    const model = MlpClassifier.create(device, config);
    const inputs = upload(device, randn(rows * 8, 40), [rows, 8], 'x');
    const r = randn(rows * 4, 41);
    const s = { 'hidden.0': randn(rows * 12, 42), 'hidden.1': randn(rows * 8, 43) };
    const names = Object.keys(s);
    const state: ModelState = await model.saveState();
    const loss = async () => {
      await model.loadState(state);
      const logits = await model.forward({ inputs, rows }, { training: true });
      return probeWithHidden(logits, model.hiddenStates(names, { training: true }), r, s);
    };
    await loss();
    model.zeroGrad();
    await model.backward(upload(device, r, [rows, 4], 'r'), {
      hidden: { 'hidden.0': upload(device, s['hidden.0'], [rows, 12], 's0'), 'hidden.1': upload(device, s['hidden.1'], [rows, 8], 's1') },
    });
    expect(await checkEveryParameter(model.parameters(), state, loss, { eps: 1e-2, atol: 5e-3, rtol: 1e-2, samples: 5 })).toEqual([]);
  });

  gpuTest('MLP backward refuses hidden gradients with unknown names or wrong shapes, by name', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 8, hidden: [12], classes: 4, seed: 3 });
    await model.forward({ inputs: upload(device, randn(3 * 8, 1), [3, 8], 'x'), rows: 3 }, { training: true });
    const g = upload(device, new Float32Array(12), [3, 4], 'g');
    await expect(model.backward(g, { hidden: { 'hidden.7': upload(device, new Float32Array(36), [3, 12], 'h') } })).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'options.hidden', value: 'hidden.7', known: ['hidden.0'] },
    });
    await expect(model.backward(g, { hidden: { 'hidden.0': upload(device, new Float32Array(24), [3, 8], 'h') } })).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'options.hidden["hidden.0"]', value: [3, 8] },
    });
  });

  gpuTest(
    'transformer: blocks.l and ln_f; backward with their gradients agrees with finite differences (dropout on)',
    async ({ device }) => {
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
      expect(model.hiddenStateWidths()).toEqual({ 'blocks.0': 8, 'blocks.1': 8, ln_f: 8 });
      const state: ModelState = await model.saveState();
      for (const [name, t] of Object.entries(state.tensors)) {
        if (name.endsWith('.weight') && !name.includes('ln')) (t.data as Float32Array).set(randn(t.data.length, name.length, 0.4));
      }
      const sequences = 2;
      const rows = 8;
      const tokens = uploadI32(device, Array.from(tokenizer.encode('badgecafe')).slice(0, rows), 'tokens');
      const r = randn(rows * model.vocabSize, 3);
      const s = { 'blocks.0': randn(rows * 8, 4), 'blocks.1': randn(rows * 8, 5), ln_f: randn(rows * 8, 6) };
      const names = Object.keys(s);
      const loss = async () => {
        await model.loadState(state);
        const logits = await model.forward({ tokens, sequences }, { training: true });
        return probeWithHidden(logits, model.hiddenStates(names, { training: true }), r, s);
      };
      await loss();
      // The last block's output is the final layer norm's input, not its output.
      const [last, normed] = [
        model.hiddenStates(['blocks.1'], { training: true })['blocks.1']!,
        model.hiddenStates(['ln_f'], { training: true }).ln_f!,
      ];
      expect(await readFloat32(last)).not.toEqual(await readFloat32(normed));
      model.zeroGrad();
      const hidden = Object.fromEntries(Object.entries(s).map(([name, data]) => [name, upload(device, data, [rows, 8], name)]));
      await model.backward(upload(device, r, [rows, model.vocabSize], 'r'), { hidden });
      expect(await checkEveryParameter(model.parameters(), state, loss, { eps: 1e-2, atol: 2e-3, rtol: 2e-2, samples: 3 })).toEqual([]);
    },
  );
});
