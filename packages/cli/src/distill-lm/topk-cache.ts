import { DistilleryError, type TeacherTargets, type WhiteBoxTeacher } from '@distillery/core';
import { uploadTensor, type GpuTensor } from '@distillery/webgpu';
import { TeacherCacheReader, TeacherCacheWriter } from '@distillery/white-box/node';
import { loadLlamaCppPlugin } from '../lm/llama-cpp.js';
import type { WindowBatch, IdentifiedWindows } from './step-windows.js';

export interface BuildTopKCacheOptions {
  dir: string;
  /** The teacher GGUF that llama.cpp runs. */
  modelPath: string;
  /** The training windows (row w·context + t of the cache is position t of window w). */
  windows: IdentifiedWindows;
  k: number;
  threads: number;
  /** Names the cache (a different teacher, corpus or context must use another folder). */
  teacher: string;
  onProgress?: (done: number, total: number) => void;
}

/** Windows per shard: a killed build resumes after the last complete shard. */
const WINDOWS_PER_SHARD = 64;

/**
 * DistillKit's offline setup: the teacher runs once on llama.cpp (CPU) over every training window
 * under teacher forcing, and its top-k next-token log-probabilities (T = 1, with the tail mass) are
 * stored in white-box's teacher cache format; students then train on WebGPU without the teacher.
 * Padded positions (a document's last window) get placeholder rows that the loss ignores.
 */
export async function buildTopKCache(o: BuildTopKCacheOptions): Promise<{ seconds: number; tokens: number; built: boolean }> {
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
  const { LlamaCppTeacher } = await loadLlamaCppPlugin('methods', 'kd-topk-cache');
  // A context longer than the window: node-llama-cpp's distribution at the last slot of a full
  // context is off (about 1e-2), so no window fills it.
  const teacher = await LlamaCppTeacher.load({ modelPath: o.modelPath, threads: o.threads, contextSize: T + 8, exact: true });
  if (teacher.vocabSize !== o.windows.corpus.vocab) {
    await teacher.dispose();
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `llama.cpp reads a vocabulary of ${teacher.vocabSize} tokens from ${o.modelPath}, the corpus was tokenised with ${o.windows.corpus.vocab}`,
      {
        field: 'teacher',
        value: o.modelPath,
        file: o.modelPath,
      },
    );
  }
  const started = performance.now();
  let tokens = 0;
  try {
    while (!writer.complete) {
      const first = writer.nextRow / T;
      const count = Math.min(WINDOWS_PER_SHARD, total - first);
      const ids = Array.from({ length: count }, (_, i) => first + i);
      const { tokens: host, labels } = o.windows.hostWindows(ids);
      // The labelled positions are a prefix of each window; only they need a distribution, and
      // padding never reaches llama.cpp.
      const sequences = ids.map((_, s) => {
        let n = 0;
        while (n < T && labels[s * T + n] !== o.windows.ignoreIndex) n++;
        return Array.from(host.subarray(s * T, s * T + n));
      });
      const top = await teacher.topK(sequences, o.k);
      const rows = count * T;
      const indices = new Int32Array(rows * o.k);
      const logprobs = new Float32Array(rows * o.k);
      const tailMass = new Float32Array(rows).fill(1);
      for (let r = 0; r < rows; r++) for (let j = 0; j < o.k; j++) [indices[r * o.k + j], logprobs[r * o.k + j]] = [j, -1e9];
      let at = 0;
      const topIndices = top.indices.data as Int32Array;
      const topLogprobs = top.logprobs.data as Float32Array;
      const topTail = top.tailMass!.data as Float32Array;
      sequences.forEach((seq, s) => {
        for (let t = 0; t < seq.length; t++, at++) {
          const r = s * T + t;
          indices.set(topIndices.subarray(at * o.k, (at + 1) * o.k), r * o.k);
          logprobs.set(topLogprobs.subarray(at * o.k, (at + 1) * o.k), r * o.k);
          tailMass[r] = topTail[at]!;
        }
        tokens += seq.length;
      });
      await writer.appendShard({ kind: 'topk', rows, k: o.k, indices, logprobs, tailMass });
      o.onProgress?.(first + count, total);
    }
  } finally {
    await teacher.dispose();
  }
  return { seconds: (performance.now() - started) / 1000, tokens, built: true };
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
