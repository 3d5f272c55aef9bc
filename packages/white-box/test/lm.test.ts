import { expect } from 'vitest';
import { constant, cosine, Rng, type ModelState } from '@distillery/core';
import { CrossEntropyLoss, KdLoss } from '@distillery/kernels';
import { AdamW, CharTokenizer, TransformerLm } from '@distillery/nn';
import { readFloat32, readTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { evaluateLanguageModel, HiddenStateMatch, LmDistiller, ModelTeacher, TokenWindows, type TokenCorpus } from '../src/index.js';

const sentences = ['the cat sat on the mat. ', 'a dog ran in the park. ', 'the sun is hot today. ', 'we like to read books. '];
const trainText = Array.from({ length: 8 }, (_, i) => sentences[i % 4]! + sentences[(i * 3 + 1) % 4]!).join('');
const validationText = sentences[2]! + sentences[0]! + sentences[3]! + sentences[1]!;
const tokenizer = CharTokenizer.fromText(trainText + validationText);
const corpus = (text: string, parts = 1): TokenCorpus => {
  const ids = Array.from(tokenizer.encode(text));
  const size = Math.ceil(ids.length / parts);
  return {
    documents: Array.from({ length: parts }, (_, i) => Int32Array.from(ids.slice(i * size, (i + 1) * size))),
    vocab: tokenizer.vocabSize,
  };
};

/** Float64 per-token cross-entropy and top-1 agreement from logits, written out directly. */
function directMetrics(logits: Float32Array, teacherLogits: Float32Array, labels: Int32Array, vocab: number, ignore: number) {
  let nll = 0;
  let count = 0;
  let agree = 0;
  for (let r = 0; r < labels.length; r++) {
    if (labels[r] === ignore) continue;
    const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
    const lse = Math.log(row.reduce((s, z) => s + Math.exp(z), 0));
    nll += lse - row[labels[r]!]!;
    count++;
    const top = (z: ArrayLike<number>) => Array.from(z).indexOf(Math.max(...Array.from(z)));
    if (top(row) === top(teacherLogits.subarray(r * vocab, (r + 1) * vocab))) agree++;
  }
  return { crossEntropy: nll / count, agreement: agree / count, count };
}

gpuDescribe('language-model distillation', () => {
  gpuTest(
    'TokenWindows: consecutive windows per document, next-token labels, padding labelled ignoreIndex; bad input by name',
    async ({ device }) => {
      const data = new TokenWindows(
        device,
        {
          documents: [
            [1, 2, 3, 4, 5, 6],
            [7, 8, 9],
          ],
          vocab: 10,
        },
        { context: 4, sequences: 2, seed: 1 },
      );
      expect(data.windows).toBe(3);
      expect(data.labelledTokens).toBe(5 + 2);
      expect(data.batchesPerEpoch).toBe(1);
      const { tokens, labels } = data.hostWindows([0, 1, 2]);
      expect(Array.from(tokens)).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 0]);
      expect(Array.from(labels)).toEqual([2, 3, 4, 5, 6, -100, -100, -100, 8, 9, -100, -100]);
      const first = await data.batch(3, 0);
      const again = Array.from((await readTensor(first.tokens)).data);
      expect(Array.from((await readTensor((await data.batch(3, 0)).tokens)).data)).toEqual(again);
      // A batch names its windows (an offline cache reads its rows by them): here the tokens of those windows.
      const { tokens: named } = data.hostWindows(first.windows);
      expect(Array.from(named)).toEqual(again);
      expect(first.windows).toHaveLength(2);
      expect(() => new TokenWindows(device, { documents: [[1, 2, 3]], vocab: 10 }, { context: 4, sequences: 2, seed: 1 })).toThrowError(
        'E_BAD_VALUE: the corpus gives 1 windows of 4 tokens, fewer than sequences (2) per batch',
      );
      expect(() => new TokenWindows(device, { documents: [[1, 12]], vocab: 10 }, { context: 4, sequences: 1, seed: 1 })).toThrowError(
        'corpus.documents[0][1] must be a token id in [0, 10), got 12',
      );
    },
  );

  gpuTest('evaluateLanguageModel equals a direct float64 computation; padding is excluded', async ({ device }) => {
    const config = { tokenizer: tokenizer.toJSON(), context: 8, width: 16, heads: 2, layers: 1, seed: 3 };
    const model = TransformerLm.create(device, config);
    const teacherModel = TransformerLm.create(device, { ...config, seed: 4 });
    // Larger weights than GPT-2's init so the logits (and the arg-maxes) are far from uniform.
    for (const [m, seed] of [
      [model, 1],
      [teacherModel, 2],
    ] as const) {
      const state: ModelState = await m.saveState();
      const rng = new Rng(seed);
      for (const [name, t] of Object.entries(state.tensors))
        if (name.endsWith('.weight') && !name.includes('ln')) (t.data as Float32Array).forEach((_, i, a) => (a[i] = rng.normal() * 0.5));
      await m.loadState(state);
    }
    // Three documents whose lengths are not multiples of the context: padded last windows.
    const ids = Array.from(tokenizer.encode(trainText)).slice(0, 20 + 7 + 33);
    const data = new TokenWindows(
      device,
      { documents: [ids.slice(0, 20), ids.slice(20, 27), ids.slice(27)], vocab: tokenizer.vocabSize },
      { context: 8, sequences: 2, seed: 0 },
    );
    const teacher = new ModelTeacher(teacherModel);
    const metrics = await evaluateLanguageModel(model, data, { teacher, characters: 57 });

    const all = Array.from({ length: data.windows }, (_, i) => i);
    const batch = data.windowsBatch(all);
    const logits = await readFloat32(await model.forward(batch, { training: false }));
    const teacherLogits = await readFloat32(await teacherModel.forward(batch, { training: false }));
    const want = directMetrics(logits, teacherLogits, data.hostWindows(all).labels, tokenizer.vocabSize, -100);
    expect(metrics.tokens).toBe(19 + 6 + 32);
    expect(want.count).toBe(metrics.tokens);
    expect(metrics.crossEntropy).toBeCloseTo(want.crossEntropy, 5);
    expect(metrics.perplexity).toBeCloseTo(Math.exp(want.crossEntropy), 4);
    expect(metrics.bitsPerToken).toBeCloseTo(want.crossEntropy / Math.LN2, 5);
    expect(metrics.bitsPerCharacter).toBeCloseTo((want.crossEntropy * 57) / 57 / Math.LN2, 5);
    expect(metrics.teacherAgreement).toBe(want.agreement);
    expect(want.agreement).toBeGreaterThan(0);
    expect(want.agreement).toBeLessThan(1);
  });

  gpuTest(
    'an LM student distilled from a trained LM teacher: lower per-token CE than at init, more agreement with the teacher',
    async ({ device }) => {
      const context = 16;
      const train = corpus(trainText, 2);
      const validation = corpus(validationText);
      const teacherModel = TransformerLm.create(device, {
        tokenizer: tokenizer.toJSON(),
        context,
        width: 32,
        heads: 4,
        layers: 2,
        seed: 1,
      });
      const teacherRun = new LmDistiller({
        student: teacherModel,
        loss: new CrossEntropyLoss(),
        optimizer: new AdamW({ weightDecay: 0, clipNorm: 1 }),
        train,
        validation,
        sequences: 8,
        epochs: 25,
        seed: 1,
        schedules: { lr: constant(3e-3) },
      });
      await teacherRun.run();
      expect((await teacherRun.evaluate()).crossEntropy).toBeLessThan(2);

      const teacher = new ModelTeacher(teacherModel);
      const student = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context, width: 16, heads: 2, layers: 1, seed: 2 });
      const distiller = new LmDistiller({
        teacher,
        student,
        loss: new KdLoss(),
        optimizer: new AdamW({ weightDecay: 0, clipNorm: 1 }),
        train,
        validation,
        validationCharacters: validationText.length - 1,
        sequences: 8,
        epochs: 25,
        seed: 2,
        schedules: { lr: cosine({ from: 1e-2, to: 1e-3 }), temperature: constant(2), softWeight: constant(1), hardWeight: constant(0.5) },
      });
      const before = await distiller.evaluate();
      const evaluations: Record<string, number>[] = [];
      distiller.loop.on('evaluation', (e) => evaluations.push(e.metrics));
      await distiller.run();
      const after = await distiller.evaluate();
      expect(evaluations).toHaveLength(25);
      expect(evaluations.at(-1)).toMatchObject({ crossEntropy: after.crossEntropy, teacherAgreement: after.teacherAgreement });
      expect(after.tokens).toBe(validationText.length - 1);
      expect(after.bitsPerCharacter).toBeCloseTo(after.bitsPerToken, 10);
      expect(after.crossEntropy).toBeLessThan(before.crossEntropy - 1);
      expect(after.teacherAgreement!).toBeGreaterThan(before.teacherAgreement! + 0.3);
    },
  );

  gpuTest(
    'hidden-state matching on transformer blocks through the LmDistiller: the term is reported per step and falls',
    async ({ device }) => {
      const teacherModel = TransformerLm.create(device, {
        tokenizer: tokenizer.toJSON(),
        context: 16,
        width: 32,
        heads: 4,
        layers: 2,
        seed: 1,
      });
      const student = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context: 16, width: 16, heads: 2, layers: 1, seed: 2 });
      const hiddenLoss = new HiddenStateMatch({
        device,
        pairs: [
          { student: 'ln_f', teacher: 'ln_f', loss: 'cosine', projection: true },
          { student: 'blocks.0', teacher: 'ln_f', projection: true },
        ],
        seed: 3,
      });
      const distiller = new LmDistiller({
        teacher: new ModelTeacher(teacherModel),
        student,
        loss: new KdLoss(),
        hiddenLoss,
        optimizer: new AdamW({ weightDecay: 0 }),
        train: corpus(trainText, 2),
        sequences: 8,
        epochs: 10,
        seed: 2,
        schedules: { lr: constant(1e-2), temperature: constant(2) },
      });
      const terms: Record<string, number>[] = [];
      distiller.loop.on('step', (e) => terms.push(e.terms));
      await distiller.run();
      for (const name of ['ln_f->ln_f', 'blocks.0->ln_f']) {
        const series = terms.map((t) => t[name]!);
        expect(
          series.slice(-3).reduce((a, b) => a + b),
          name,
        ).toBeLessThan(0.7 * series.slice(0, 3).reduce((a, b) => a + b));
      }
    },
  );

  gpuTest('padding labels must match the loss: a KdLoss with another ignoreIndex is refused by name', async ({ device }) => {
    const student = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context: 8, width: 16, heads: 2, layers: 1, seed: 2 });
    expect(
      () =>
        new LmDistiller({
          student,
          loss: new KdLoss({ ignoreIndex: -1 }),
          optimizer: new AdamW(),
          train: corpus(trainText),
          sequences: 2,
          epochs: 1,
          seed: 1,
          schedules: { lr: constant(1e-3) },
        }),
    ).toThrowError("ignoreIndex must be the loss's ignoreIndex (-1), or padding would be trained on, got -100");
  });

  gpuTest(
    'steps instead of epochs: exactly that many batches, cycling the passes in order; callbacks see every step and evaluation',
    async ({ device }) => {
      const make = () =>
        TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context: 8, width: 16, heads: 2, layers: 1, seed: 2 });
      const base = { loss: new CrossEntropyLoss(), train: corpus(trainText), sequences: 4, seed: 1, schedules: { lr: constant(1e-3) } };
      // Two passes as steps train the same batches in the same order as two epochs: the same weights.
      const [a, b] = [make(), make()];
      const twoEpochs = new LmDistiller({ ...base, student: a, optimizer: new AdamW(), epochs: 2 });
      const perPass = twoEpochs.data.batchesPerEpoch;
      await twoEpochs.run();
      await new LmDistiller({ ...base, student: b, optimizer: new AdamW(), steps: 2 * perPass }).run();
      const weights = (m: TransformerLm) => Promise.all(m.parameters().map(async (p) => Array.from(await readFloat32(p.value))));
      expect(await weights(b)).toEqual(await weights(a));
      const steps = 2 * perPass + 2;
      const seen: number[] = [];
      const evaluations: number[] = [];
      const distiller = new LmDistiller({
        ...base,
        student: make(),
        optimizer: new AdamW(),
        validation: corpus(validationText),
        steps,
        evaluateEverySteps: steps / 2,
        callbacks: [{ name: 'watch', onStep: (e) => void seen.push(e.step), onEvaluation: (e) => void evaluations.push(e.step) }],
      });
      const summary = await distiller.run();
      expect(summary.steps).toBe(steps);
      expect(seen).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
      expect(evaluations).toEqual([steps / 2, steps]);
      expect(Number.isFinite(summary.metrics.crossEntropy!)).toBe(true);
      expect(() => new LmDistiller({ ...base, student: make(), optimizer: new AdamW(), epochs: 1, steps: 2 })).toThrowError(
        /exactly one of epochs/,
      );
      expect(() => new LmDistiller({ ...base, student: make(), optimizer: new AdamW(), steps: 5, evaluateEverySteps: 2 })).toThrowError(
        /a divisor of steps \(5\)/,
      );
    },
  );
});
