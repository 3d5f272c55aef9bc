import { DistilleryError, type Student, type TeacherTargets, type WhiteBoxTeacher } from '@distillery/core';
import type { LmBatch } from '@distillery/nn';
import { readFloat32, uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { releaseLmBatch, topKFromLogits, type TokenWindows, type WindowBatch } from '@distillery/white-box';
import { TeacherCacheReader, TeacherCacheWriter } from '@distillery/white-box/node';
import { loadLlamaCppPlugin } from './llama-cpp.js';

/*
 * The offline top-k cache of a language-model teacher (DistillKit's setup): the teacher runs once
 * under teacher forcing over every training window, its top-k next-token log-probabilities (T = 1,
 * with the tail mass) go into white-box's teacher cache, row w·context + t for position t of window
 * w, and students then train without the teacher. Shared by `distillery distill-lm` (kd-topk-cache)
 * and the `cache` teacher of `distillery distill` on text.
 */

/** Top-k rows of some windows: `count × context` rows, padded positions included. */
interface TopKRows {
  indices: Int32Array;
  logprobs: Float32Array;
  tailMass: Float32Array;
}

/** What computes a teacher's top-k rows for windows: llama.cpp on the CPU, or a model on WebGPU. */
export interface WindowTopKSource {
  readonly vocabSize: number;
  topK(windows: TokenWindows, ids: readonly number[], k: number): Promise<TopKRows>;
  dispose(): Promise<void>;
}

export interface BuildWindowTopKCacheOptions {
  dir: string;
  /** The training windows (row w·context + t of the cache is position t of window w). */
  windows: TokenWindows;
  k: number;
  /** Names the cache (a different teacher, corpus or context must use another folder). */
  teacher: string;
  /** Opens the source once rows are missing (a complete cache never loads the teacher). */
  open: () => Promise<WindowTopKSource>;
  /** The setting that names the teacher (in a vocabulary mismatch). */
  field: string;
  onProgress?: (done: number, total: number) => void;
}

/** Windows per shard: a killed build resumes after the last complete shard. */
const WINDOWS_PER_SHARD = 64;

/** Builds (or finishes) the cache in `dir`; a complete one is left as it is. */
export async function buildWindowTopKCache(o: BuildWindowTopKCacheOptions): Promise<{ seconds: number; tokens: number; built: boolean }> {
  const T = o.windows.context;
  const total = o.windows.windows;
  const writer = await TeacherCacheWriter.open({
    dir: o.dir,
    kind: 'topk',
    rows: total * T,
    vocab: o.windows.corpus.vocab,
    k: o.k,
    teacher: o.teacher,
    rowsPerShard: WINDOWS_PER_SHARD * T,
  });
  if (writer.complete) return { seconds: 0, tokens: 0, built: false };
  const source = await o.open();
  const started = performance.now();
  let tokens = 0;
  try {
    if (source.vocabSize !== o.windows.corpus.vocab)
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `the teacher has a vocabulary of ${source.vocabSize} tokens, the corpus was tokenised with ${o.windows.corpus.vocab}`,
        { field: o.field, value: o.teacher },
      );
    while (!writer.complete) {
      const first = writer.nextRow / T;
      const count = Math.min(WINDOWS_PER_SHARD, total - first);
      const ids = Array.from({ length: count }, (_, i) => first + i);
      const rows = await source.topK(o.windows, ids, o.k);
      await writer.appendShard({ kind: 'topk', rows: count * T, k: o.k, ...rows });
      tokens += labelledPrefixes(o.windows, ids).reduce((n, seq) => n + seq.length, 0);
      o.onProgress?.(first + count, total);
    }
  } finally {
    await source.dispose();
  }
  return { seconds: (performance.now() - started) / 1000, tokens, built: true };
}

/** Each window's tokens up to its first padded label: the positions that need a distribution. */
function labelledPrefixes(windows: TokenWindows, ids: readonly number[]): number[][] {
  const T = windows.context;
  const { tokens, labels } = windows.hostWindows(ids);
  return ids.map((_, s) => {
    let n = 0;
    while (n < T && labels[s * T + n] !== windows.ignoreIndex) n++;
    return Array.from(tokens.subarray(s * T, s * T + n));
  });
}

/**
 * The teacher GGUF on llama.cpp (CPU, `threads` threads). Padding never reaches llama.cpp: padded
 * positions get placeholder rows that the loss ignores.
 */
export async function llamaCppTopK(modelPath: string, threads: number, context: number, field: string): Promise<WindowTopKSource> {
  const { LlamaCppTeacher } = await loadLlamaCppPlugin(field, modelPath);
  // A context longer than the window: node-llama-cpp's distribution at the last slot of a full
  // context is off (about 1e-2), so no window fills it.
  const teacher = await LlamaCppTeacher.load({ modelPath, threads, contextSize: context + 8, exact: true });
  return {
    vocabSize: teacher.vocabSize,
    dispose: () => teacher.dispose(),
    topK: async (windows, ids, k) => {
      const T = windows.context;
      const sequences = labelledPrefixes(windows, ids);
      const top = await teacher.topK(sequences, k);
      const rows = ids.length * T;
      const indices = new Int32Array(rows * k);
      const logprobs = new Float32Array(rows * k);
      const tailMass = new Float32Array(rows).fill(1);
      for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) [indices[r * k + j], logprobs[r * k + j]] = [j, -1e9];
      const topIndices = top.indices.data as Int32Array;
      const topLogprobs = top.logprobs.data as Float32Array;
      const topTail = top.tailMass!.data as Float32Array;
      let at = 0;
      sequences.forEach((seq, s) => {
        for (let t = 0; t < seq.length; t++, at++) {
          const r = s * T + t;
          indices.set(topIndices.subarray(at * k, (at + 1) * k), r * k);
          logprobs.set(topLogprobs.subarray(at * k, (at + 1) * k), r * k);
          tailMass[r] = topTail[at]!;
        }
      });
      return { indices, logprobs, tailMass };
    },
  };
}

/** A teacher model on WebGPU: its logits per window, then top-k of log-softmax in float64 on the host. */
export function webGpuTopK(model: Student<LmBatch, GpuTensor> & { readonly vocabSize: number }): WindowTopKSource {
  return {
    vocabSize: model.vocabSize,
    dispose: async () => {},
    topK: async (windows, ids, k) => {
      const batch = windows.windowsBatch(ids);
      let logits: Float32Array;
      try {
        logits = await readFloat32(await model.forward(batch, { training: false }));
      } finally {
        releaseLmBatch(batch);
      }
      const { indices, logprobs, tailMass } = topKFromLogits(logits, ids.length * windows.context, model.vocabSize, k);
      return { indices, logprobs, tailMass };
    },
  };
}

/** Answers a `WindowBatch` from the top-k cache: rows w·context … w·context + context − 1 per window. */
export class WindowCacheTeacher implements WhiteBoxTeacher<WindowBatch, GpuTensor> {
  readonly kind = 'white-box' as const;
  readonly name: string;
  readonly vocabSize: number;

  constructor(
    readonly cache: TeacherCacheReader,
    readonly device: GPUDevice,
    readonly context: number,
  ) {
    this.vocabSize = cache.index.vocab;
    this.name = `cache:${cache.index.teacher}`;
  }

  #previous: GpuTensor[] = [];

  async targets(batch: WindowBatch): Promise<TeacherTargets<GpuTensor>> {
    // The loop has consumed the previous step's targets by the time it asks for the next ones.
    for (const t of this.#previous) t.release();
    const T = this.context;
    const ids = new Uint32Array(batch.windows.length * T);
    batch.windows.forEach((w, s) => {
      for (let t = 0; t < T; t++) ids[s * T + t] = w * T + t;
    });
    const rows = await this.cache.readRows(ids);
    if (rows.kind !== 'topk')
      throw new DistilleryError('E_CORRUPT_FILE', `teacher cache ${this.cache.dir} holds ${rows.kind} rows, expected top-k`, {
        field: 'kind',
        value: rows.kind,
      });
    const indices = uploadTensor(this.device, { shape: [rows.rows, rows.k], dtype: 'i32', data: rows.indices }, 'topk-cache-indices');
    const logprobs = uploadTensor(this.device, { shape: [rows.rows, rows.k], dtype: 'f32', data: rows.logprobs }, 'topk-cache-logprobs');
    this.#previous = [indices, logprobs];
    // No tailMass: the KD loss's default tail mode ('ignore') renormalises over the k kept tokens,
    // as DistillKit does, and does not read it.
    return { kind: 'topk', k: rows.k, indices, logprobs };
  }

  release(): void {
    for (const t of this.#previous) t.release();
    this.#previous = [];
  }
}
