import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { constant, Rng, type ModelState, type StepEvent, type WhiteBoxTeacher } from '@distillery/core';
import { FileCheckpointStore } from '@distillery/core/node';
import { CrossEntropyLoss, KdLoss } from '@distillery/kernels';
import { AdamW, CharTokenizer, MlpClassifier, Sgd, TransformerLm, type LmBatch, type TransformerConfig } from '@distillery/nn';
import { bufferPool, readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import {
  FusedHeadStudent,
  FusedLinearKdLoss,
  HiddenStateMatch,
  LmDistiller,
  ModelTeacher,
  topKFromLogits,
  type LmDistillerOptions,
  type TokenCorpus,
} from '../src/index.js';

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

/** A teacher whose logits are far from uniform (GPT-2's init gives near-uniform ones). */
async function sharpTeacher(device: GPUDevice, config: TransformerConfig): Promise<TransformerLm> {
  const model = TransformerLm.create(device, config);
  const state: ModelState = await model.saveState();
  const rng = new Rng(99);
  for (const [name, t] of Object.entries(state.tensors))
    if (name.endsWith('.weight') && !name.includes('ln')) (t.data as Float32Array).forEach((_, i, a) => (a[i] = rng.normal() * 0.3));
  await model.loadState(state);
  return model;
}

/** The dense teacher's top-k, as an offline cache would give them (tail mass kept). */
function topKTeacher(dense: ModelTeacher<LmBatch>, k: number): WhiteBoxTeacher<LmBatch, GpuTensor> {
  return {
    kind: 'white-box',
    name: `${dense.name}-top${k}`,
    vocabSize: dense.vocabSize,
    async targets(batch) {
      const targets = await dense.targets(batch);
      if (targets.kind !== 'dense') throw new Error('expected dense targets');
      const [rows, vocab] = targets.logits.shape as [number, number];
      const top = topKFromLogits(await readFloat32(targets.logits), rows, vocab, k);
      const device = targets.logits.device;
      return {
        kind: 'topk',
        k,
        indices: uploadTensor(device, { shape: [rows, k], dtype: 'i32', data: top.indices }, 'top-indices'),
        logprobs: uploadTensor(device, { shape: [rows, k], dtype: 'f32', data: top.logprobs }, 'top-logprobs'),
        tailMass: uploadTensor(device, { shape: [rows], dtype: 'f32', data: top.tailMass }, 'top-tail'),
      };
    },
  };
}

async function weights(model: TransformerLm): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries((await model.saveState()).tensors)) out[name] = t.data as Float32Array;
  return out;
}

const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

gpuDescribe('fused head: the fused linear + KD loss as a training path', () => {
  const cases = [
    { kind: 'dense', hidden: false },
    { kind: 'topk', hidden: false },
    { kind: 'dense', hidden: true },
  ] as const;
  for (const { kind, hidden } of cases) {
    const what = `${kind} teacher + hard labels${hidden ? ' + cosine matching on ln_f' : ''}`;
    gpuTest(
      `one step through the fused path gives the loss, terms and updated weights of KdLoss on full logits (${what})`,
      async ({ device }) => {
        const context = 16;
        const config: TransformerConfig = {
          tokenizer: tokenizer.toJSON(),
          context,
          width: 16,
          heads: 2,
          layers: 1,
          seed: 4,
        };
        const dense = new ModelTeacher(await sharpTeacher(device, { ...config, width: 24, seed: 9 }));
        const teacher = kind === 'dense' ? dense : topKTeacher(dense, 5);
        // Two documents whose lengths are not multiples of the context: padded, ignored positions.
        const train = corpus(trainText, 2);
        const windows = train.documents.reduce((n, d) => n + Math.ceil((d.length - 1) / context), 0);
        const run = async (fusedHead: LmDistillerOptions['fusedHead']) => {
          const student = TransformerLm.create(device, config);
          const distiller = new LmDistiller({
            teacher,
            student,
            loss: new KdLoss({ tail: 'bucket' }),
            optimizer: new Sgd({ momentum: 0 }),
            train,
            sequences: windows,
            epochs: 1,
            seed: 1,
            fusedHead,
            // ln_f's gradient then enters backwardFromHidden beside the fused loss's.
            hiddenLoss: hidden
              ? new HiddenStateMatch({ device, pairs: [{ student: 'ln_f', teacher: 'ln_f', loss: 'cosine', projection: true }], seed: 3 })
              : undefined,
            schedules: {
              lr: constant(0.5),
              temperature: constant(2),
              softWeight: constant(1),
              hardWeight: constant(0.5),
            },
          });
          expect(distiller.loss).toBeInstanceOf(fusedHead ? FusedLinearKdLoss : KdLoss);
          const steps: StepEvent[] = [];
          distiller.loop.on('step', (e) => steps.push(e));
          await distiller.run();
          return { steps, weights: await weights(student) };
        };
        const initial = await weights(TransformerLm.create(device, config));
        const plain = await run(false);
        // Three chunks, the last one ragged.
        const fused = await run({ chunkRows: 160 });
        expect(windows * context).toBeGreaterThan(320);
        expect(plain.steps).toHaveLength(1);
        expect(fused.steps).toHaveLength(1);
        expect(fused.steps[0]!.loss).toBeCloseTo(plain.steps[0]!.loss, 5);
        const names = hidden ? ['hard', 'ln_f->ln_f', 'soft'] : ['hard', 'soft'];
        expect(Object.keys(fused.steps[0]!.terms).sort()).toEqual(names);
        for (const name of names) expect(fused.steps[0]!.terms[name]).toBeCloseTo(plain.steps[0]!.terms[name]!, 5);
        // Compare the updates, not the weights: a wrong or missing gradient (the head's included) shows at the update's scale.
        for (const [name, w0] of Object.entries(initial)) {
          const want = plain.weights[name]!.map((w, i) => w - w0[i]!);
          const got = fused.weights[name]!.map((w, i) => w - w0[i]!);
          expect(maxAbs(want), name).toBeGreaterThan(0);
          expect(maxAbs(got.map((g, i) => g - want[i]!)), name).toBeLessThanOrEqual(1e-4 * maxAbs(want));
        }
      },
    );
  }

  gpuTest(
    'LmDistiller with fusedHead: the validation CE of the unfused run, epoch by epoch; stop + resume is exact',
    async ({ device }) => {
      const config: TransformerConfig = {
        tokenizer: tokenizer.toJSON(),
        context: 16,
        width: 16,
        heads: 2,
        layers: 1,
        dropout: 0.1,
        seed: 2,
      };
      const teacher = new ModelTeacher(
        await sharpTeacher(device, {
          ...config,
          width: 24,
          dropout: 0,
          seed: 7,
        }),
      );
      const make = (fusedHead: LmDistillerOptions['fusedHead'], store?: FileCheckpointStore) => {
        const student = TransformerLm.create(device, config);
        const distiller = new LmDistiller({
          teacher,
          student,
          loss: new KdLoss(),
          optimizer: new AdamW({ weightDecay: 0.01, clipNorm: 1 }),
          train: corpus(trainText, 2),
          validation: corpus(validationText),
          sequences: 4,
          epochs: 3,
          seed: 3,
          fusedHead,
          checkpoint: store && { store },
          schedules: {
            lr: constant(1e-2),
            temperature: constant(2),
            softWeight: constant(1),
            hardWeight: constant(0.5),
          },
        });
        const evaluations: number[] = [];
        distiller.loop.on('evaluation', (e) => evaluations.push(e.metrics.crossEntropy!));
        return { student, distiller, evaluations };
      };
      const plain = make(false);
      await plain.distiller.run();
      const fused = make({ chunkRows: 32 });
      await fused.distiller.run();
      expect(fused.distiller.loss).toBeInstanceOf(FusedLinearKdLoss);
      expect(fused.evaluations).toHaveLength(3);
      expect(fused.evaluations.at(-1)!).toBeLessThan(fused.evaluations[0]! - 0.1);
      fused.evaluations.forEach((ce, epoch) => expect(Math.abs(ce - plain.evaluations[epoch]!), `epoch ${epoch}`).toBeLessThan(1e-4));

      const store = new FileCheckpointStore(join(await mkdtemp(join(tmpdir(), 'wb-fused-resume-')), 'ckpt.safetensors'));
      const first = make({ chunkRows: 32 }, store);
      first.distiller.loop.on('step', (e) => e.step === 7 && first.distiller.stop());
      expect((await first.distiller.run()).stopped).toBe(true);
      const resumed = make({ chunkRows: 32 }, store);
      const summary = await resumed.distiller.run();
      expect(summary.steps).toBe(fused.distiller.loop.totalSteps);
      const want = await weights(fused.student);
      const got = await weights(resumed.student);
      for (const name of Object.keys(want)) expect(Array.from(got[name]!), name).toEqual(Array.from(want[name]!));
    },
  );

  gpuTest('bad input is a typed error naming the field and the value', async ({ device }) => {
    const config: TransformerConfig = {
      tokenizer: tokenizer.toJSON(),
      context: 8,
      width: 16,
      heads: 2,
      layers: 1,
      seed: 2,
    };
    const model = TransformerLm.create(device, config);
    const student = new FusedHeadStudent(model);
    const loss = new FusedLinearKdLoss(student);
    const V = model.vocabSize;
    const batch = {
      tokens: uploadTensor(
        device,
        {
          shape: [8],
          dtype: 'i32',
          data: Int32Array.from({ length: 8 }, (_, i) => i % V),
        },
        'tokens',
      ),
      sequences: 1,
    };
    const hidden = await student.forward(batch, { training: true });
    expect(hidden.shape).toEqual([8, 16]);
    const teacherLogits = (vocab: number) =>
      uploadTensor(
        device,
        {
          shape: [8, vocab],
          dtype: 'f32',
          data: new Float32Array(8 * vocab),
        },
        'teacher',
      );
    const rowWeights = uploadTensor(device, { shape: [8], dtype: 'f32', data: new Float32Array(8).fill(1) }, 'w');
    await expect(
      loss.compute({
        studentLogits: hidden,
        targets: { kind: 'dense', logits: teacherLogits(V) },
        hyper: {},
        rowWeights,
      }),
    ).rejects.toMatchObject({
      code: 'E_UNSUPPORTED',
      details: { field: 'rowWeights', value: [8] },
    });
    await expect(
      loss.compute({
        studentLogits: hidden,
        targets: { kind: 'dense', logits: teacherLogits(V + 3) },
        hyper: {},
      }),
    ).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: {
        field: 'targets.logits',
        value: [8, V + 3],
        expected: `[8, ${V}]`,
      },
    });
    // The model's logits where the loss wants hidden states: the head's width is named.
    const logits = await model.forward(batch, { training: true });
    await expect(
      loss.compute({
        studentLogits: logits,
        targets: { kind: 'dense', logits: teacherLogits(V) },
        hyper: {},
      }),
    ).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      details: { field: 'studentLogits', value: [8, V] },
    });
    await expect(student.backward(hidden)).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'loss' },
    });
    expect(() => new FusedLinearKdLoss(student, { chunkRows: 0 })).toThrowError('chunkRows');

    const options = {
      student: model,
      loss: new KdLoss(),
      optimizer: new AdamW(),
      train: corpus(trainText),
      sequences: 2,
      epochs: 1,
      seed: 1,
      schedules: { lr: constant(1e-3) },
      fusedHead: true,
    };
    const otherVocab = TransformerLm.create(device, {
      ...config,
      tokenizer: { kind: 'byte' },
    });
    expect(() => new LmDistiller({ ...options, teacher: new ModelTeacher(otherVocab) })).toThrowError(
      expect.objectContaining({
        code: 'E_SHAPE_MISMATCH',
        details: expect.objectContaining({
          field: 'teacher.vocabSize',
          value: 256,
        }),
      }),
    );
    expect(() => new LmDistiller({ ...options, loss: new CrossEntropyLoss() })).toThrowError(
      expect.objectContaining({
        code: 'E_UNSUPPORTED',
        details: expect.objectContaining({
          field: 'loss',
          value: 'cross-entropy',
        }),
      }),
    );
    const mlp = MlpClassifier.create(device, {
      inputSize: 4,
      hidden: [8],
      classes: V,
      seed: 1,
    });
    expect(() => new LmDistiller({ ...options, student: mlp as never, context: 8 })).toThrowError(
      expect.objectContaining({
        code: 'E_UNSUPPORTED',
        details: expect.objectContaining({ field: 'student' }),
      }),
    );
  });

  gpuTest('peak pool bytes of a fused step stay below the unfused step where the logits dominate', async ({ device }) => {
    // A 2048-token vocabulary over a narrow model: the [rows, V] logits and their gradient dominate a step.
    const wide = CharTokenizer.fromText(Array.from({ length: 2047 }, (_, i) => String.fromCharCode(0x100 + i)).join(''));
    const vocab = wide.vocabSize;
    const config: TransformerConfig = {
      tokenizer: wide.toJSON(),
      context: 32,
      width: 16,
      heads: 2,
      layers: 1,
      seed: 1,
    };
    const rng = new Rng(5);
    const train: TokenCorpus = {
      documents: [Int32Array.from({ length: 4 * 32 + 1 }, () => rng.int(vocab))],
      vocab,
    };
    const pool = bufferPool(device);
    const step = async (fusedHead: LmDistillerOptions['fusedHead']) => {
      // A fresh teacher each time, so both peaks include the teacher's logits.
      const teacher = new ModelTeacher(TransformerLm.create(device, { ...config, seed: 2 }));
      const student = TransformerLm.create(device, config);
      const distiller = new LmDistiller({
        teacher,
        student,
        loss: new KdLoss({ hardWeight: 0.5 }),
        optimizer: new AdamW(),
        train,
        sequences: 4,
        epochs: 1,
        seed: 1,
        fusedHead,
        schedules: { lr: constant(1e-3) },
      });
      pool.resetPeak();
      const base = pool.stats().bytesInUse;
      const summary = await distiller.run();
      expect(summary.steps).toBe(1);
      return {
        peak: pool.stats().peakBytesInUse - base,
        loss: summary.lastLoss,
      };
    };
    const unfused = await step(false);
    const fused = await step({ chunkRows: 32 });
    const logitsBytes = 4 * 32 * vocab * 4;
    expect(fused.loss).toBeCloseTo(unfused.loss, 4);
    // The unfused step holds the batch's logits and their gradient; the fused one a 32-row chunk of each.
    expect(unfused.peak - fused.peak).toBeGreaterThan(logitsBytes);
  });
});
