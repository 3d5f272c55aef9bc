/**
 * LM distillation in a page, the way `distillery distill-lm` does it in Node: a teacher Llama read
 * from GGUF (`LlamaLm.fromGguf`), its tokenizer (`LlamaTokenizer`), a smaller Llama student with the
 * teacher's vocabulary, RoPE base and RMSNorm ε, trained for a fixed number of steps on TinyStories
 * windows through core's loop with the fused KD loss (soft + hard next-token term), greedy stories,
 * and the student written back as GGUF with the teacher's tokenizer. Browser- and Node-safe: the
 * browser test runs the teacher's story through this same code in Node.
 */
import { constant, cosine, Distiller, warmup, type DataSource, type StepEvent } from '@distillery/core';
import { LlamaTokenizer, parseGguf, type GgufFile } from '@distillery/gguf';
import { KdLoss } from '@distillery/kernels';
import { AdamW, asTeacher, LlamaLm, llamaStudentConfig, sampleTokens, type LmBatch } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';
import { TokenWindows, type TokenCorpus } from '@distillery/white-box';
import type { LmRunSettings } from './settings.js';

export { LM_QUICK_SETTINGS, LM_SETTINGS, type LmRunSettings } from './settings.js';

export interface LmTeacher {
  name: string;
  file: GgufFile;
  tokenizer: LlamaTokenizer;
  model: LlamaLm;
  eos: number;
}

/**
 * Parses a teacher GGUF (bytes from `fetch` or a file input). Not a GGUF, or not a Llama GGUF with a
 * llama tokenizer: a typed `DistilleryError` (`E_CORRUPT_FILE`, `E_UNSUPPORTED`, …) naming `source`.
 */
export function loadTeacher(device: GPUDevice, bytes: Uint8Array, source: string, context: number): LmTeacher {
  const file = parseGguf(bytes, { source });
  const tokenizer = LlamaTokenizer.fromGguf(file);
  const model = LlamaLm.fromGguf(device, file, { context, source });
  const name = source.replace(/^.*[/\\]/, '').replace(/\.gguf$/i, '');
  return { name, file, tokenizer, model, eos: tokenizer.eosTokenId ?? model.settings.eosToken };
}

/** The stories as token ids (BOS first), the way distill-lm tokenises its corpus. */
export function storiesCorpus(stories: readonly string[], tokenizer: LlamaTokenizer): TokenCorpus {
  return { documents: stories.map((s) => tokenizer.encode(s, { addBos: true })), vocab: tokenizer.vocabSize };
}

/** A greedy continuation of `prompt` (up to `maxTokens` tokens, stopping after EOS), decoded with the prompt. */
export async function writeStory(
  model: LlamaLm,
  tokenizer: LlamaTokenizer,
  prompt: string,
  maxTokens: number,
): Promise<{ ids: number[]; text: string }> {
  const promptIds = tokenizer.encode(prompt, { addBos: true });
  const eos = tokenizer.eosTokenId ?? model.settings.eosToken;
  const ids = await sampleTokens(model, promptIds, { maxTokens, temperature: 0, stopToken: eos });
  const shown = ids.at(-1) === eos ? ids.slice(0, -1) : ids;
  return { ids, text: tokenizer.decode([...promptIds, ...shown]) };
}

/** Exactly `steps` batches as one epoch: step i is batch `i mod n` of pass `⌊i / n⌋` over the windows. */
class FixedSteps implements DataSource<LmBatch> {
  constructor(
    readonly windows: TokenWindows,
    readonly batchesPerEpoch: number,
  ) {}

  batch(_epoch: number, index: number): Promise<LmBatch> {
    const n = this.windows.batchesPerEpoch;
    return Promise.resolve(this.windows.batch(Math.floor(index / n), index % n));
  }
}

/** One distillation run: a fresh student of `settings.student` taught by `teacher` on `corpus`. */
export class LmDistillation {
  readonly student: LlamaLm;
  readonly loop: Distiller<LmBatch, GpuTensor>;

  constructor(
    readonly teacher: LmTeacher,
    corpus: TokenCorpus,
    readonly settings: LmRunSettings,
  ) {
    const s = settings;
    this.student = LlamaLm.create(
      teacher.model.device,
      llamaStudentConfig(teacher.model.settings, s.student, { context: s.context, seed: s.seed }),
    );
    const windows = new TokenWindows(this.student.device, corpus, { context: s.context, sequences: s.sequences, seed: s.seed });
    this.loop = new Distiller<LmBatch, GpuTensor>({
      teacher: asTeacher(teacher.model, { name: teacher.name }),
      student: this.student,
      loss: new KdLoss({ divergence: 'forward-kl', temperature: s.temperature, hardWeight: s.hardWeight }),
      optimizer: new AdamW({ weightDecay: 0.01, clipNorm: 1 }),
      data: new FixedSteps(windows, s.steps),
      labels: (b) => b.labels,
      epochs: 1,
      schedules: {
        lr: warmup({ steps: s.warmupSteps, then: cosine({ from: s.lr, to: s.lr * 0.1 }) }),
        temperature: constant(s.temperature),
        softWeight: constant(1),
        hardWeight: constant(s.hardWeight),
      },
    });
  }

  /** Trains to the last step, or until `stop()` (which finishes the current step). */
  async run(onStep: (e: StepEvent) => void): Promise<{ steps: number; stopped: boolean }> {
    this.loop.on('step', onStep);
    const summary = await this.loop.run({ resume: false });
    return { steps: summary.steps, stopped: summary.stopped };
  }

  stop(): void {
    this.loop.stop();
  }

  /** The student as a GGUF llama.cpp loads, with the teacher's tokenizer. */
  toGguf(): Promise<Uint8Array> {
    return this.student.toGguf({ tokenizerFrom: this.teacher.file, name: `${this.teacher.name}-student` });
  }
}
