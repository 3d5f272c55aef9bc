import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  arithmetic,
  buildStepByStepDataset,
  parseCompletions,
  StepByStepBatches,
  stepByStepTokenizer,
  TaskCrossEntropyLoss,
  type StepByStepRecord,
  type TrainingMode,
} from '@distillery/step-by-step';
import { loadRecordedOutputs, loadStepByStepSplit, vendoredDataDir } from '@distillery/step-by-step/node';
import { AdamW, TransformerLm } from '@distillery/nn';
import { recordResult, type BenchContext, type BenchResult, type BenchSuite } from '../suite.js';
import { timeHost } from '../timing.js';

/** SVAMP as vendored in @distillery/step-by-step (the whole split); DISTILLERY_STEP_BY_STEP_DATA or --data override it. */
function defaultDataDir(): string {
  return process.env.DISTILLERY_STEP_BY_STEP_DATA ?? vendoredDataDir();
}

/** SVAMP's training rows with PaLM's rationales, or synthetic rows of the same lengths without the release. */
async function trainingRows(dataDir: string): Promise<{ rows: StepByStepRecord[]; source: string }> {
  if (existsSync(join(dataDir, 'svamp', 'svamp_train.json'))) {
    const examples = await loadStepByStepSplit(dataDir, 'svamp', 'train');
    const outputs = await loadRecordedOutputs(dataDir, 'svamp', 'train');
    const parsed = parseCompletions(arithmetic, examples, new Map(examples.map((e, i) => [e.id, outputs[i]!])));
    return { rows: buildStepByStepDataset(parsed, { validationFraction: 0 }).train, source: 'svamp' };
  }
  const rows = Array.from({ length: 256 }, (_, i) => {
    const input =
      `Tom had ${i} apples. He bought ${i % 9} more and gave ${i % 4} to Ann. `.repeat(2) + 'How many apples does Tom have now?';
    const label = `( ( ${i} + ${i % 9} ) - ${i % 4} )`;
    const rationale = `Tom started with ${i} apples. He bought ${i % 9} more, so he had ${i} + ${i % 9}. He gave ${i % 4} away.`;
    return {
      id: `s${i}`,
      input,
      predict_input: `predict: ${input}`,
      explain_input: `explain: ${input}`,
      label,
      rationale,
      teacher_label: label,
      gold_label: label,
      teacher_correct: true,
    };
  });
  return { rows, source: 'synthetic' };
}

/**
 * One optimiser step of a step-by-step student as the trainer runs it (batch upload, forward,
 * token-weighted cross-entropy with its gradient, backward, AdamW with clipping), timed in wall
 * clock. Throughput counts token positions (sequences × context) and label-carrying positions.
 */
async function trainingStep(
  ctx: BenchContext,
  rows: StepByStepRecord[],
  mode: TrainingMode,
  shape: { context: number; width: number; layers: number; heads: number; batch: number },
): Promise<BenchResult> {
  const device = ctx.device!;
  const tokenizer = stepByStepTokenizer(rows);
  const model = TransformerLm.create(device, {
    tokenizer: tokenizer.toJSON(),
    context: shape.context,
    width: shape.width,
    layers: shape.layers,
    heads: shape.heads,
    dropout: 0.1,
    seed: 0,
  });
  const data = new StepByStepBatches({
    device,
    tokenizer,
    rows,
    mode,
    batchSize: shape.batch,
    context: shape.context,
    rationaleWeight: 1,
    seed: 0,
  });
  const loss = new TaskCrossEntropyLoss(() => data.current);
  const optimizer = new AdamW({ clipNorm: 1 });
  let index = 0;
  const step = async () => {
    const batch = await data.batch(0, index++ % data.batchesPerEpoch);
    const logits = await model.forward(batch, { training: true });
    const out = await loss.compute({ studentLogits: logits, labels: batch.labels, rowWeights: batch.rowWeights, normalizer: 1, hyper: {} });
    model.zeroGrad();
    await model.backward(out.gradLogits);
    await out.total();
    await optimizer.step(model.parameters(), 1e-3);
  };
  const ms = await timeHost(step, { warmup: 1, runs: ctx.quick ? 2 : 5 });
  const positionsBefore = data.served.positions;
  const targetsBefore = data.served.targetTokens;
  const steps = ctx.quick ? 2 : 5;
  for (let i = 0; i < steps; i++) await step(); // counts of a few steps: batches differ in their target tokens
  const positions = (data.served.positions - positionsBefore) / steps;
  const targets = (data.served.targetTokens - targetsBefore) / steps;
  const parameters = model.parameterCount;
  data.release();
  model.release();
  optimizer.release();
  return {
    suite: 'step-by-step',
    name: `student-train-step`,
    params: {
      mode,
      batch: shape.batch,
      context: shape.context,
      width: shape.width,
      layers: shape.layers,
      heads: shape.heads,
      vocab: tokenizer.vocabSize,
    },
    ms,
    metrics: {
      tokensPerSecond: (positions * 1000) / ms.median,
      targetTokensPerSecond: (targets * 1000) / ms.median,
      sequencesPerStep: positions / shape.context,
      parameters,
    },
  };
}

export const stepByStepSuite: BenchSuite = {
  name: 'step-by-step',
  description: 'Tokens/s of step-by-step student training (TransformerLm, token-weighted CE, AdamW): standard vs step-by-step batches',
  needsGpu: true,
  async run(ctx) {
    const { rows, source } = await trainingRows(ctx.options.data ?? defaultDataDir());
    ctx.log(`rows: ${rows.length} (${source})`);
    const shape = ctx.quick
      ? { context: 64, width: 32, layers: 1, heads: 2, batch: 4 }
      : { context: 256, width: 64, layers: 2, heads: 4, batch: 16 };
    const results: BenchResult[] = [];
    for (const mode of ['standard', 'step-by-step'] as const) {
      const result = await trainingStep(ctx, rows, mode, shape);
      result.params.data = source;
      results.push(recordResult(ctx, result));
      ctx.log(`${mode}: ${result.ms.median.toFixed(0)} ms/step, ${result.metrics!.tokensPerSecond!.toFixed(0)} tokens/s`);
    }
    return results;
  },
};
