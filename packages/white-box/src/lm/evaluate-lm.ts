import { requireInteger, type Student, type WhiteBoxTeacher } from '@distillery/core';
import { argmaxRow, crossEntropyRow, type LmBatch } from '@distillery/nn';
import { readFloat32, readTensor, type GpuTensor } from '@distillery/webgpu';
import { releaseLmBatch, type TokenWindows } from './token-windows.js';

export interface LanguageModelMetrics {
  /** Mean next-token cross-entropy over the labelled positions, in nats. */
  crossEntropy: number;
  /** exp(crossEntropy). */
  perplexity: number;
  /** crossEntropy / ln 2. */
  bitsPerToken: number;
  /** Total cross-entropy in bits ÷ `characters`, when the caller says how many characters the predicted tokens span. */
  bitsPerCharacter?: number;
  /** Fraction of labelled positions where the model's arg-max token equals the teacher's (with a teacher). */
  teacherAgreement?: number;
  /** Labelled positions counted (padding excluded). */
  tokens: number;
}

export interface EvaluateLanguageModelOptions {
  teacher?: WhiteBoxTeacher<LmBatch, GpuTensor>;
  /** Sequences per forward (default: the data's batch size). */
  sequences?: number;
  /**
   * Characters spanned by the predicted tokens (every token but each document's first), for
   * `bitsPerCharacter`: equal to `tokens` for a character tokenizer, the decoded length for bytes.
   */
  characters?: number;
}

/**
 * Per-token metrics of a language model on every window of `data`, in corpus order, evaluation
 * mode. Logits are read back and the metrics computed in float64; positions labelled
 * `data.ignoreIndex` (padding) are excluded from every metric.
 */
export async function evaluateLanguageModel(
  model: Student<LmBatch, GpuTensor>,
  data: TokenWindows,
  options: EvaluateLanguageModelOptions = {},
): Promise<LanguageModelMetrics> {
  const sequences = requireInteger('sequences', options.sequences ?? data.sequences, 1);
  const vocab = model.vocabSize;
  let nll = 0;
  let tokens = 0;
  let agree = 0;
  for (let first = 0; first < data.windows; first += sequences) {
    const batch = data.orderedBatch(first, sequences);
    try {
      const logits = await readFloat32(await model.forward(batch, { training: false }));
      const labels = (await readTensor(batch.labels!)).data as Int32Array;
      let teacherLogits: Float32Array | undefined;
      if (options.teacher) {
        const targets = await options.teacher.targets(batch);
        // Only dense targets carry every logit; a top-k teacher's first index is its arg-max.
        teacherLogits = targets.kind === 'dense' ? await readFloat32(targets.logits) : undefined;
        if (targets.kind === 'topk') {
          const top = (await readTensor(targets.indices)).data as Int32Array;
          for (let r = 0; r < labels.length; r++)
            if (labels[r] !== data.ignoreIndex && argmaxRow(logits, r * vocab, vocab) === top[r * targets.k]) agree++;
        }
      }
      for (let r = 0; r < labels.length; r++) {
        const y = labels[r]!;
        if (y === data.ignoreIndex) continue;
        const o = r * vocab;
        nll += crossEntropyRow(logits, o, vocab, y);
        tokens++;
        if (teacherLogits && argmaxRow(logits, o, vocab) === argmaxRow(teacherLogits, o, teacherLogits.length / labels.length)) agree++;
      }
    } finally {
      releaseLmBatch(batch);
    }
  }
  const crossEntropy = nll / tokens;
  const metrics: LanguageModelMetrics = { crossEntropy, perplexity: Math.exp(crossEntropy), bitsPerToken: crossEntropy / Math.LN2, tokens };
  if (options.characters !== undefined) metrics.bitsPerCharacter = nll / Math.LN2 / requireInteger('characters', options.characters, 1);
  if (options.teacher) metrics.teacherAgreement = agree / tokens;
  return metrics;
}
