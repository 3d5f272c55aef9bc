import { constant, cosine, Distiller, type ModelState } from '@distillery/core';
import { FileCheckpointStore } from '@distillery/core/node';
import { readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { ArrayDataSource, CpuCrossEntropy, crossEntropy, xorCircles } from './classification.js';
import { finiteDifferenceCheck, probe, randn, sampleIndices, upload } from './helpers.js';
import { AdamW } from '../src/optim/adamw.js';
import { Sgd } from '../src/optim/sgd.js';
import { asTeacher } from '../src/teacher.js';
import { MlpClassifier, type MlpConfig } from '../src/models/mlp.js';

async function weights(model: MlpClassifier): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const p of model.parameters()) out[p.name] = Array.from(await readFloat32(p.value));
  return out;
}

async function accuracy(model: MlpClassifier, device: GPUDevice, data: ReturnType<typeof xorCircles>): Promise<number> {
  const inputs = uploadTensor(device, { shape: [data.rows, data.features], dtype: 'f32', data: data.x }, 'eval-inputs');
  const predicted = await model.predict(inputs);
  inputs.release();
  return predicted.filter((p, i) => p === data.y[i]).length / data.rows;
}

gpuDescribe('MlpClassifier', () => {
  gpuTest('initialisation is a pure function of the config (seed included)', async ({ device }) => {
    const config: MlpConfig = { inputSize: 7, hidden: [5], classes: 3, seed: 11 };
    const a = await weights(MlpClassifier.create(device, config));
    expect(await weights(MlpClassifier.create(device, config))).toEqual(a);
    const other = await weights(MlpClassifier.create(device, { ...config, seed: 12 }));
    expect(other['layers.0.weight']).not.toEqual(a['layers.0.weight']);
    expect(a['layers.0.bias']).toEqual([0, 0, 0, 0, 0]);
    const bound = Math.sqrt(6 / 7);
    expect(Math.max(...a['layers.0.weight']!.map(Math.abs))).toBeLessThanOrEqual(bound);
  });

  describe.each([
    ['gelu', 1e-2, { dropout: 0.25, inputJitter: 0.1 }],
    ['relu', 1e-3, { dropout: 0.25, inputJitter: 0.1 }],
  ] as const)('gradient check (%s, eps %s, %o)', (activation, eps, extra) => {
    gpuTest('backward agrees with finite differences of the training forward for every parameter', async ({ device }) => {
      const rows = 5;
      // Widths are multiples of 4, like every model in this file: one set of shader variants, compiled once.
      const config: MlpConfig = { inputSize: 8, hidden: [12, 8], classes: 4, activation, seed: 3, ...extra };
      const model = MlpClassifier.create(device, config);
      const x = randn(rows * 8, 40);
      const r = randn(rows * 4, 41);
      const inputs = upload(device, x, [rows, 8], 'x');
      const state: ModelState = await model.saveState();
      // Restoring the state before each forward replays the same dropout mask and jitter (rngStep).
      const loss = async () => {
        await model.loadState(state);
        return probe(await readFloat32(await model.forward({ inputs, rows }, { training: true })), r);
      };
      await loss();
      model.zeroGrad();
      await model.backward(upload(device, r, [rows, 4], 'r'));
      for (const p of model.parameters()) {
        const grad = await readFloat32(p.grad);
        const values = state.tensors[p.name]!.data as Float32Array;
        // FD in f32: the loss noise is ~1e-7 relative, so eps trades truncation for rounding.
        const check = await finiteDifferenceCheck({
          x: values,
          grad,
          loss,
          indices: sampleIndices(values.length, 6, p.name.length),
          eps,
          atol: 5e-3,
          rtol: 1e-2,
        });
        expect(check.worst, `${p.name}\n${check.details.join('\n')}`).toBeLessThanOrEqual(1);
      }
    });
  });

  gpuTest('backward accumulates until zeroGrad', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 4, hidden: [8], classes: 4, seed: 1 });
    const inputs = upload(device, randn(3 * 4, 1), [3, 4], 'x');
    const g = upload(device, randn(3 * 4, 2), [3, 4], 'g');
    await model.forward({ inputs, rows: 3 }, { training: true });
    model.zeroGrad();
    await model.backward(g);
    const once = await readFloat32(model.parameters()[0]!.grad);
    await model.backward(g);
    const twice = await readFloat32(model.parameters()[0]!.grad);
    once.forEach((v, i) => expect(twice[i]).toBeCloseTo(2 * v, 5));
  });

  gpuTest('learns a non-linear 4-class problem through the Distiller: loss falls, accuracy rises', async ({ device }) => {
    const train = xorCircles(1024, 12, 1);
    const heldOut = xorCircles(512, 12, 2);
    const model = MlpClassifier.create(device, {
      inputSize: 12,
      hidden: [64, 64],
      classes: 4,
      activation: 'gelu',
      dropout: 0.1,
      inputJitter: 0.05,
      seed: 5,
    });
    const before = await accuracy(model, device, heldOut);
    const loss = new CpuCrossEntropy();
    const distiller = new Distiller({
      student: model,
      loss,
      optimizer: new AdamW({ weightDecay: 0.01, clipNorm: 5 }),
      data: new ArrayDataSource(device, train, 32, 7),
      labels: (b) => b.labels,
      epochs: 10,
      schedules: { lr: cosine({ from: 1e-2, to: 1e-3 }) },
    });
    const losses: number[] = [];
    distiller.on('step', (e) => losses.push(e.loss));
    const summary = await distiller.run({ resume: false });
    expect(summary.steps).toBe(320);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.slice(0, 20));
    const last = mean(losses.slice(-20));
    const after = await accuracy(model, device, heldOut);
    expect(first).toBeGreaterThan(1.2);
    expect(last).toBeLessThan(0.5 * first);
    expect(before).toBeLessThan(0.45);
    expect(after).toBeGreaterThan(0.75);
  });

  gpuTest(
    'exact resume: N steps = N/2 + checkpoint (model + optimiser + data position) + N/2, dropout and jitter included',
    async ({ device }) => {
      const dir = await mkdtemp(join(tmpdir(), 'nn-resume-'));
      try {
        const data = xorCircles(256, 12, 3);
        const config: MlpConfig = { inputSize: 12, hidden: [16, 16], classes: 4, dropout: 0.2, inputJitter: 0.1, seed: 9 };
        const run = (model: MlpClassifier, path: string) =>
          new Distiller({
            student: model,
            loss: new CpuCrossEntropy(),
            optimizer: new Sgd({ momentum: 0.9, clipNorm: 1 }),
            data: new ArrayDataSource(device, data, 32, 4),
            labels: (b) => b.labels,
            epochs: 2,
            schedules: { lr: constant(0.05) },
            checkpoint: { store: new FileCheckpointStore(path) },
          });
        const straight = MlpClassifier.create(device, config);
        await run(straight, join(dir, 'straight.safetensors')).run({ resume: false });

        const interrupted = MlpClassifier.create(device, config);
        const first = run(interrupted, join(dir, 'resumed.safetensors'));
        first.on('step', (e) => {
          if (e.step === 8) first.stop();
        });
        expect((await first.run({ resume: false })).stopped).toBe(true);
        // A fresh process: a new model (other seed, so nothing carries over) and a new optimiser.
        const resumedModel = MlpClassifier.create(device, { ...config, seed: 1234 });
        const summary = await run(resumedModel, join(dir, 'resumed.safetensors')).run();
        expect(summary.steps).toBe(16);
        expect(await weights(resumedModel)).toEqual(await weights(straight));
        expect(resumedModel.config.rngStep).toBe(16);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  gpuTest('a NaN in the inputs stops training with E_NON_FINITE naming the step and tensor; weights stay finite', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 4, hidden: [8], classes: 4, seed: 2 });
    const optimizer = new AdamW();
    const x = randn(6 * 4, 3);
    const labels = [0, 1, 2, 3, 1, 2];
    const step = async (data: Float32Array) => {
      const logits = await model.forward({ inputs: upload(device, data, [6, 4], 'x'), rows: 6 }, { training: true });
      const { grad } = crossEntropy(await readFloat32(logits), labels, 4);
      model.zeroGrad();
      await model.backward(upload(device, grad, [6, 4], 'g'));
      await optimizer.step(model.parameters(), 0.01);
    };
    await step(x);
    const before = await weights(model);
    x[5] = Number.NaN;
    await expect(step(x)).rejects.toMatchObject({ code: 'E_NON_FINITE', details: { step: 1, tensor: 'layers.0.weight.grad' } });
    expect(await weights(model)).toEqual(before);
  });

  gpuTest('serves as a white-box teacher: dense eval-mode logits', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 4, hidden: [8], classes: 4, dropout: 0.5, seed: 8 });
    const teacher = asTeacher(model, { name: 'mlp-teacher' });
    expect(teacher).toMatchObject({ kind: 'white-box', name: 'mlp-teacher', vocabSize: 4 });
    const inputs = upload(device, randn(3 * 4, 1), [3, 4], 'x');
    const targets = await teacher.targets({ inputs, rows: 3 });
    expect(targets.kind).toBe('dense');
    const a = Array.from(await readFloat32((targets as unknown as { logits: GpuTensor }).logits));
    const b = Array.from(await readFloat32(await model.forward({ inputs, rows: 3 }, { training: false })));
    expect(a).toEqual(b);
  });

  gpuTest('bad input is a typed error', async ({ device }) => {
    expect(() => MlpClassifier.create(device, { inputSize: 0, hidden: [], classes: 2 })).toThrowError(
      expect.objectContaining({ code: 'E_BAD_CONFIG' }),
    );
    expect(() => MlpClassifier.create(device, { inputSize: 3, hidden: [4], classes: 2, dropout: 1 })).toThrowError(/mlp\.dropout/);
    const model = MlpClassifier.create(device, { inputSize: 4, hidden: [8], classes: 4 });
    await expect(model.backward(upload(device, new Float32Array(8), [2, 4], 'g'))).rejects.toMatchObject({ code: 'E_BAD_VALUE' });
    await expect(
      model.forward({ inputs: upload(device, new Float32Array(10), [2, 5], 'x'), rows: 2 }, { training: true }),
    ).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
    await model.forward({ inputs: upload(device, new Float32Array(8), [2, 4], 'x'), rows: 2 }, { training: true });
    await expect(model.backward(upload(device, new Float32Array(12), [3, 4], 'g'))).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
    const wrong = MlpClassifier.create(device, { inputSize: 4, hidden: [12], classes: 4 });
    await expect(wrong.loadState(await model.saveState())).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
  });
});
