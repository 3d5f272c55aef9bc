import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileCheckpointStore } from '@distillery/core/node';
import { TransformerLm } from '@distillery/nn';
import { readFloat32, readTensor, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { describe, expect, it } from 'vitest';
import {
  arithmetic,
  greedyDecode,
  PREDICT_PREFIX,
  StepByStepBatches,
  stepByStepTokenizer,
  TaskCrossEntropyLoss,
  type StepByStepRecord,
} from '../src/index.js';
import { studentTrainingSchema, runStepByStep, trainStudent, type StudentComparison } from '../src/node.js';
import { dataDir, haveData, tempDir } from './helpers.js';
import { encodeTaskRow, END_OF_TEXT, IGNORE_INDEX, TARGET_START } from '../src/student/sequences.js';

function row(id: number, input: string, label: string, rationale: string): StepByStepRecord {
  return {
    id: `r${id}`,
    input,
    predict_input: `predict: ${input}`,
    explain_input: `explain: ${input}`,
    label,
    rationale,
    teacher_label: label,
    gold_label: label,
    teacher_correct: true,
  };
}

/** A toy arithmetic set: the rationale spells out the sum the label writes as an expression. */
const rows = Array.from({ length: 24 }, (_, i) =>
  row(
    i,
    `Tom has ${i} apples and gets ${i % 5} more. How many?`,
    `( ${i} + ${i % 5} )`,
    `He had ${i}, then ${i % 5} more, so ${i} + ${i % 5}.`,
  ),
);
const tokenizer = stepByStepTokenizer(rows);
const readInts = async (t: GpuTensor) => Array.from((await readTensor(t)).data as Int32Array);

describe('step-by-step rows for a decoder-only student', () => {
  it('labels exactly the target and its end marker, shifted by one', () => {
    const local = stepByStepTokenizer([row(0, 'ab c', 'x y', '')]);
    const r = encodeTaskRow(local, 'predict', 'ab c', 'x y', 32);
    const text = local.decode(r.tokens);
    expect(text.startsWith(`predict: ab c${TARGET_START}x y${END_OF_TEXT}`)).toBe(true);
    const start = 'predict: ab c'.length; // the marker's position predicts the first target character
    const labelled = Array.from(r.labels.entries()).filter(([, y]) => y !== IGNORE_INDEX);
    expect(labelled.map(([p]) => p)).toEqual([start, start + 1, start + 2, start + 3]);
    expect(local.decode(labelled.map(([, y]) => y))).toBe(`x y${END_OF_TEXT}`);
    expect(r).toMatchObject({ targetTokens: 4, droppedInput: 0, droppedTarget: 0 });
  });

  it('cuts a long input at its front and a long target at its end, keeping a quarter of the context for the target', () => {
    const input = 'x'.repeat(40) + 'question?';
    const target = 'because '.repeat(10);
    const local = stepByStepTokenizer([row(0, input, '', target)]);
    const r = encodeTaskRow(local, 'explain', input, target, 48);
    const text = local.decode(r.tokens);
    expect(text.startsWith('explain: ')).toBe(true);
    expect(text).toContain(`question?${TARGET_START}because`);
    expect(r.targetTokens).toBe(12); // floor(48 / 4), without the end marker
    expect(r.droppedTarget).toBe(target.length + 1 - 12);
    expect(r.droppedInput).toBe(input.length - (48 - 12 - 'explain: '.length - 1));
    expect(r.tokens.length).toBe(48);
  });

  it('refuses a context with no room for the source', () => {
    expect(() => encodeTaskRow(tokenizer, 'predict', 'abc', 'x'.repeat(40), 8)).toThrow(/context/);
  });

  it('validates the train section with field paths', () => {
    expect(studentTrainingSchema.parse({}).modes).toEqual(['standard', 'step-by-step']);
    expect(studentTrainingSchema.safeParse({ lambda: 1 }).success).toBe(false);
    expect(studentTrainingSchema.safeParse({ model: { width: 0 } }).error?.issues[0]?.path).toEqual(['model', 'width']);
  });
});

gpuDescribe('step-by-step student training', () => {
  gpuTest(
    'batches: predict rows then explain rows, token weights 1/N_label and λ/N_rationale, same order on every call',
    async ({ device }) => {
      const data = new StepByStepBatches({
        device,
        tokenizer,
        rows,
        mode: 'step-by-step',
        batchSize: 5,
        context: 96,
        rationaleWeight: 0.5,
        seed: 3,
      });
      expect(data.batchesPerEpoch).toBe(5);
      const b = await data.batch(1, 2);
      expect(b.sequences).toBe(10);
      expect(b.predictSequences).toBe(5);
      const weights = await readFloat32(b.rowWeights);
      const labels = await readInts(b.labels);
      const half = 5 * 96;
      const sum = (a: Float32Array) => a.reduce((x, y) => x + y, 0);
      expect(sum(weights.subarray(0, half))).toBeCloseTo(1, 5);
      expect(sum(weights.subarray(half))).toBeCloseTo(0.5, 5);
      weights.forEach((w, i) => expect(w > 0).toBe(labels[i] !== IGNORE_INDEX));
      const firstTokens = await readInts(b.tokens);
      const again = await data.batch(1, 2);
      expect(await readInts(again.tokens)).toEqual(firstTokens);
      const other = await data.batch(2, 2);
      expect(await readInts(other.tokens)).not.toEqual(firstTokens);
      const standard = new StepByStepBatches({
        device,
        tokenizer,
        rows,
        mode: 'standard',
        batchSize: 5,
        context: 96,
        rationaleWeight: 1,
        seed: 3,
      });
      const s = await standard.batch(0, 0);
      expect([s.sequences, s.predictSequences, s.targetTokens.explain]).toEqual([5, 5, 0]);
      data.release();
      standard.release();
    },
  );

  gpuTest('the loss is L_label + λ·L_rationale, each a mean over its task’s target tokens (float64 check)', async ({ device }) => {
    const context = 64;
    const lambda = 0.7;
    const data = new StepByStepBatches({
      device,
      tokenizer,
      rows,
      mode: 'step-by-step',
      batchSize: 4,
      context,
      rationaleWeight: lambda,
      seed: 1,
    });
    const batch = await data.batch(0, 0);
    const V = tokenizer.vocabSize;
    const n = batch.sequences * context;
    const logits = Float32Array.from({ length: n * V }, (_, i) => Math.sin(i * 12.9898) * 3);
    const loss = new TaskCrossEntropyLoss(() => data.current);
    const out = await loss.compute({
      studentLogits: uploadTensor(device, { shape: [n, V], dtype: 'f32', data: logits }, 'logits'),
      labels: batch.labels,
      rowWeights: batch.rowWeights,
      normalizer: 1,
      hyper: {},
    });
    const labels = await readInts(batch.labels);
    const perTask = { predict: { nll: 0, n: 0 }, explain: { nll: 0, n: 0 } };
    for (let p = 0; p < n; p++) {
      if (labels[p] === IGNORE_INDEX) continue;
      const z = Array.from(logits.subarray(p * V, (p + 1) * V));
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((a, x) => a + Math.exp(x - max), 0));
      const task = p < batch.predictSequences * context ? perTask.predict : perTask.explain;
      task.nll += lse - z[labels[p]!]!;
      task.n++;
    }
    const label = perTask.predict.nll / perTask.predict.n;
    const rationale = lambda * (perTask.explain.nll / perTask.explain.n);
    expect(await out.total()).toBeCloseTo(label + rationale, 4);
    expect(await out.terms.label!.reduced()).toBeCloseTo(label, 4);
    expect(await out.terms.rationale!.reduced()).toBeCloseTo(rationale, 4);
    data.release();
  });

  gpuTest('batched greedy decoding answers what one-at-a-time generation answers', async ({ device }) => {
    const model = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context: 80, width: 32, layers: 1, heads: 2, seed: 5 });
    const inputs = rows.slice(0, 5).map((r) => r.input);
    const batched = await greedyDecode(model, inputs, { prefix: PREDICT_PREFIX, maxTokens: 6, batchSize: 3 });
    for (const [i, input] of inputs.entries()) {
      const single = await model.generate(`${PREDICT_PREFIX}${input}${TARGET_START}`, { maxTokens: 6 });
      expect(batched[i]).toBe(single.split(END_OF_TEXT)[0]);
    }
    model.release();
  });

  gpuTest('trains through the Distiller: the label loss falls; killed and resumed, it ends with the same weights', async ({ device }) => {
    const settings = studentTrainingSchema.parse({
      seeds: [0],
      epochs: 3,
      batchSize: 6,
      lr: 3e-3,
      warmupSteps: 2,
      model: { context: 80, width: 32, layers: 1, heads: 2, dropout: 0.1 },
      evaluate: { maxTokens: 10 },
      checkpointEvery: 1,
    });
    const common = { device, settings, preset: arithmetic, train: rows.slice(0, 18), validation: rows.slice(18, 21), test: rows.slice(21) };
    const whole = await tempDir();
    const labelTerms: number[] = [];
    const a = await trainStudent({ ...common, mode: 'step-by-step', seed: 0, dir: whole, onStep: (e) => labelTerms.push(e.terms.label!) });
    expect(a.steps).toBe(9);
    expect(labelTerms.length).toBe(9);
    expect(a.finalTerms.label).toBeLessThan(labelTerms[0]!);
    expect(a.finalTerms.rationale).toBeGreaterThan(0);
    expect(a.test.rows).toBe(3);
    expect(a.testLabelCrossEntropy.tokens).toBeGreaterThan(0);
    expect(a.validationRationaleCrossEntropy!.crossEntropy).toBeLessThan(Math.log(tokenizer.vocabSize));

    const killed = await tempDir();
    const controller = new AbortController();
    await expect(
      trainStudent({
        ...common,
        mode: 'step-by-step',
        seed: 0,
        dir: killed,
        signal: controller.signal,
        onStep: (e) => e.step === 8 && controller.abort(),
      }),
    ).rejects.toMatchObject({ code: 'E_ABORTED' });
    const atKill = (await new FileCheckpointStore(join(killed, 'checkpoint.safetensors')).load())!;
    expect(atKill.step).toBe(8); // inside the last epoch
    const b = await trainStudent({ ...common, mode: 'step-by-step', seed: 0, dir: killed });
    expect(b.steps).toBe(9);
    // The resumed run's training time includes the time before the kill.
    expect(atKill.extra.trainingSeconds).toBeGreaterThan(0);
    expect(b.seconds).toBeGreaterThan(atKill.extra.trainingSeconds as number);
    expect(await readFile(join(killed, 'model.safetensors'))).toEqual(await readFile(join(whole, 'model.safetensors')));
    expect(b.test).toEqual(a.test);
    // Last-epoch means survive the kill too (they are in the checkpoint).
    expect(b.finalTerms.label).toBeCloseTo(a.finalTerms.label, 5);
    expect(b.finalLoss).toBeCloseTo(a.finalLoss, 5);
    // A finished run is read back, not trained again.
    const c = await trainStudent({ ...common, mode: 'step-by-step', seed: 0, dir: whole, onStep: () => expect.unreachable() });
    expect(c).toEqual(JSON.parse(await readFile(join(whole, 'result.json'), 'utf8')));
    // Other evaluation settings: the saved model is evaluated again, its training figures kept.
    const gold = await trainStudent({
      ...common,
      mode: 'step-by-step',
      seed: 0,
      dir: whole,
      labels: 'gold',
      onStep: () => expect.unreachable(),
    });
    expect(gold).toMatchObject({ steps: a.steps, seconds: a.seconds, test: a.test });
    expect(gold.evaluationKeys.crossEntropy).not.toBe(a.evaluationKeys.crossEntropy);
    expect(gold.testLabelCrossEntropy.tokens).toBe(common.test.reduce((n, r) => n + r.label.length + 1, 0));
    const shorter = { ...common, settings: { ...settings, evaluate: { ...settings.evaluate, maxTokens: 2 } } };
    const d = await trainStudent({
      ...shorter,
      mode: 'step-by-step',
      seed: 0,
      dir: whole,
      labels: 'gold',
      onStep: () => expect.unreachable(),
    });
    expect(d.test.samples.every((x) => x.predicted.length <= 2)).toBe(true);
    expect(d.evaluationKeys.test).not.toBe(a.evaluationKeys.test);
    expect(JSON.parse(await readFile(join(whole, 'result.json'), 'utf8'))).toEqual(d);
  });
});

describe.skipIf(!haveData)('step-by-step on PaLM’s recorded SVAMP outputs, end to end', () => {
  gpuTest('replay → dataset → standard and step-by-step students over two seeds → report; a rerun trains nothing', async ({ device }) => {
    const output = await tempDir();
    const config = {
      data: { dir: dataDir, dataset: 'svamp', limit: 40 },
      build: { seed: 0 },
      output,
      train: {
        seeds: [0, 1],
        epochs: 2,
        batchSize: 8,
        model: { context: 96, width: 32, layers: 1, heads: 2 },
        evaluate: { limit: 8, maxTokens: 12 },
      },
    };
    const steps: Record<string, number> = {};
    const report = await runStepByStep(config, { device, onTrainStep: (run, e) => (steps[`${run.mode}/${run.seed}`] = e.step) });
    const training = report.training as StudentComparison;
    expect(training.runs.map((r) => `${r.mode}/${r.seed}`)).toEqual(['standard/0', 'step-by-step/0', 'standard/1', 'step-by-step/1']);
    // Same steps for both modes: a step is a batch of records, whatever the tasks.
    expect(new Set(Object.values(steps))).toEqual(new Set([training.steps]));
    expect(training.steps).toBe(2 * Math.ceil(training.trainRows / 8));
    expect(training.testRows).toBe(8);
    for (const mode of ['standard', 'step-by-step'] as const) expect(training.byMode[mode]!.testAccuracy.values).toHaveLength(2);
    expect(training.difference!.testAccuracy).toBeCloseTo(
      training.byMode['step-by-step']!.testAccuracy.mean - training.byMode.standard!.testAccuracy.mean,
      12,
    );
    for (const run of training.runs) {
      expect(run.finalTerms.label).toBeLessThan(Math.log(200)); // below a uniform guess over any vocabulary this size
      expect(run.tokensPerSecond).toBeGreaterThan(0);
      expect(run.test.samples.length).toBeGreaterThan(0);
      expect(run.truncation.predict.rows).toBe(training.trainRows);
      expect(run.truncation.explain.rows).toBe(run.mode === 'step-by-step' ? training.trainRows : 0);
    }
    // Only the step-by-step students learned the rationales.
    const rationaleCe = (mode: string) =>
      training.runs.filter((r) => r.mode === mode).map((r) => r.validationRationaleCrossEntropy!.crossEntropy);
    for (const [i, ce] of rationaleCe('step-by-step').entries()) expect(ce).toBeLessThan(rationaleCe('standard')[i]!);
    const saved = JSON.parse(await readFile(join(output, 'students', 'comparison.json'), 'utf8')) as StudentComparison;
    expect(saved).toEqual(JSON.parse(JSON.stringify(training)));
    expect(report.files).toContain('students/step-by-step-seed1/model.safetensors');

    const again = await runStepByStep(config, { device, onTrainStep: () => expect.unreachable() });
    expect(again.training).toEqual(saved);
  });
});
