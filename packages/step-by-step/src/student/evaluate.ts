import { crossEntropyRow, type TransformerLm } from '@distillery/nn';
import { readFloat32, uploadTensor } from '@distillery/webgpu';
import { PREDICT_PREFIX, type StepByStepRecord } from '../dataset.js';
import type { TaskPreset } from '../presets.js';
import { greedyDecode } from './decode.js';
import { encodeTaskRow, IGNORE_INDEX, type StudentTask } from './sequences.js';

export interface TaskCrossEntropy {
  /** Mean cross-entropy per target token (nats), teacher-forced. */
  crossEntropy: number;
  /** exp(crossEntropy). */
  perplexity: number;
  tokens: number;
}

/**
 * Teacher-forced cross-entropy of a task's targets (the label for `predict`, the rationale for
 * `explain`): float64 over read-back logits, target tokens only. It moves before accuracy does,
 * so it shows what the rationale task changes in a student too small to answer correctly.
 */
export async function taskCrossEntropy(
  model: TransformerLm,
  rows: readonly StepByStepRecord[],
  task: StudentTask,
  { batchSize = 32 } = {},
): Promise<TaskCrossEntropy> {
  const { context } = model.settings;
  const V = model.vocabSize;
  let nll = 0;
  let tokens = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const chunk = rows.slice(start, start + batchSize);
    const encoded = chunk.map((r) => encodeTaskRow(model.tokenizer, task, r.input, task === 'predict' ? r.label : r.rationale, context));
    const ids = new Int32Array(chunk.length * context);
    encoded.forEach((e, r) => ids.set(e.tokens, r * context));
    const tensor = uploadTensor(model.device, { shape: [ids.length], dtype: 'i32', data: ids }, 'task-ce tokens');
    const logits = await readFloat32(await model.forward({ tokens: tensor, sequences: chunk.length }, { training: false }));
    tensor.release();
    encoded.forEach((e, r) => {
      for (let p = 0; p < context; p++) {
        const y = e.labels[p]!;
        if (y === IGNORE_INDEX) continue;
        nll += crossEntropyRow(logits, (r * context + p) * V, V, y);
        tokens++;
      }
    });
  }
  const crossEntropy = tokens ? nll / tokens : Number.NaN;
  return { crossEntropy, perplexity: Math.exp(crossEntropy), tokens };
}

export interface LabelAccuracy {
  /** Correct greedy `predict:` answers ÷ rows (the preset's `isCorrect` against `label`). */
  accuracy: number;
  correct: number;
  rows: number;
  /** The first few decoded answers, to see what the student says. */
  samples: { id: string; predicted: string; gold: string; correct: boolean }[];
}

/** The paper's evaluation: greedy-decode the predict task only and compare with the gold label. */
export async function labelAccuracy(
  model: TransformerLm,
  rows: readonly StepByStepRecord[],
  preset: TaskPreset,
  { maxTokens = 32, batchSize = 32, samples = 5 }: { maxTokens?: number; batchSize?: number; samples?: number } = {},
): Promise<LabelAccuracy> {
  const predicted = await greedyDecode(
    model,
    rows.map((r) => r.input),
    { prefix: PREDICT_PREFIX, maxTokens, batchSize },
  );
  let correct = 0;
  const shown: LabelAccuracy['samples'] = [];
  rows.forEach((row, i) => {
    const answer = predicted[i]!.trim();
    // An answer that is not a valid label (e.g. an unbalanced expression) is simply wrong.
    const ok = answer.length > 0 && row.label.length > 0 && safeIsCorrect(preset, answer, row.label);
    if (ok) correct++;
    if (shown.length < samples) shown.push({ id: row.id, predicted: answer, gold: row.label, correct: ok });
  });
  return { accuracy: rows.length ? correct / rows.length : Number.NaN, correct, rows: rows.length, samples: shown };
}

function safeIsCorrect(preset: TaskPreset, predicted: string, gold: string): boolean {
  try {
    return preset.isCorrect(predicted, gold);
  } catch {
    return false;
  }
}
