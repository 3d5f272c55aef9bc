import { DistilleryError, type Student } from '@distillery/core';
import { logSumExpRow, type LmBatch } from '@distillery/nn';
import { readFloat32, type GpuTensor } from '@distillery/webgpu';
import { releaseLmBatch, type TokenWindows } from '@distillery/white-box';
import { loadLlamaCppPlugin } from './llama-cpp.js';

/** How an exported GGUF, run by llama.cpp, compares with the WebGPU student it came from. */
export interface GgufCheck {
  /** Positions compared (teacher-forced windows). */
  positions: number;
  /** Entries compared per position: llama.cpp's most likely tokens. */
  topK: number;
  /** Largest |log p(llama.cpp) − log p(WebGPU)| over the compared entries. */
  maxAbsLogprobDiff: number;
  /** Greedy continuation of the prompt by llama.cpp (temperature 0) and by the WebGPU student. */
  llamaCppText: string;
  webGpuText: string;
  sameText: boolean;
}

export interface GgufCheckInput {
  /** The WebGPU student the GGUF was written from. */
  student: Student<LmBatch, GpuTensor> & { readonly vocabSize: number };
  gguf: string;
  /** Windows compared under teacher forcing (the first `windows` of them). */
  windows: TokenWindows;
  /** The prompt both continue greedily (`promptTokens` long, BOS included), for at most `maxTokens` tokens. */
  prompt: string;
  promptTokens: number;
  maxTokens: number;
  /** The WebGPU student's greedy continuation of `prompt` by `tokens` tokens, prompt included. */
  webGpuGreedy: (tokens: number) => Promise<string>;
  /** The setting that asked for the check (named if llama.cpp is missing). */
  field: string;
}

/** Windows compared in the check. */
const CHECK_WINDOWS = 2;
const CHECK_TOP = 64;

/**
 * Loads an exported GGUF in node-llama-cpp (1 thread) and compares its teacher-forced
 * log-probabilities (llama.cpp's top 64 per position) and its greedy text with the WebGPU student's.
 */
export async function checkGgufInLlamaCpp(o: GgufCheckInput): Promise<GgufCheck> {
  const { student, windows, gguf } = o;
  const T = windows.context;
  const V = student.vocabSize;
  const { LlamaCppTeacher } = await loadLlamaCppPlugin(o.field, gguf);
  const llama = await LlamaCppTeacher.load({ modelPath: gguf, threads: 1, contextSize: T + 8, exact: true });
  try {
    const count = Math.min(CHECK_WINDOWS, windows.windows);
    const batch = windows.orderedBatch(0, count);
    let logits: Float32Array;
    try {
      logits = await readFloat32(await student.forward(batch, { training: false }));
    } finally {
      releaseLmBatch(batch);
    }
    const ids = Array.from({ length: count }, (_, i) => i);
    const { tokens, labels } = windows.hostWindows(ids);
    // The student's GGUF says context_length = T; node-llama-cpp's distribution at the last slot of
    // a full context is off (about 1e-2), so the check stops one position short of it.
    const room = Math.min(T, llama.contextSize - 1);
    const sequences = ids.map((_, s) => {
      let n = 0;
      while (n < room && labels[s * T + n] !== windows.ignoreIndex) n++;
      return Array.from(tokens.subarray(s * T, s * T + n));
    });
    const k = Math.min(CHECK_TOP, V);
    const top = await llama.topK(sequences, k);
    const idx = top.indices.data as Int32Array;
    const lp = top.logprobs.data as Float32Array;
    let worst = 0;
    let positions = 0;
    let row = 0;
    sequences.forEach((seq, s) => {
      for (let t = 0; t < seq.length; t++, row++) {
        const at = (s * T + t) * V;
        const lse = logSumExpRow(logits, at, V);
        for (let j = 0; j < k; j++) {
          const logp = lp[row * k + j]!;
          // Probabilities below ~1e-6 lose their digits in llama.cpp's float32 softmax.
          if (logp < -12) continue;
          worst = Math.max(worst, Math.abs(logp - (logits[at + idx[row * k + j]!]! - lse)));
        }
        positions++;
      }
    });
    if (!Number.isFinite(worst))
      throw new DistilleryError('E_NON_FINITE', `llama.cpp log-probabilities of ${gguf} are not finite`, {
        field: o.field,
        value: gguf,
        file: gguf,
      });
    // Within the student's context only: past it the WebGPU sampler slides its window, llama.cpp does not.
    const greedy = Math.max(1, Math.min(o.maxTokens, T - o.promptTokens));
    const completion = await llama.complete({ prompt: o.prompt, maxTokens: greedy, temperature: 0 });
    const llamaCppText = o.prompt + completion.text;
    const webGpuText = await o.webGpuGreedy(greedy);
    return {
      positions,
      topK: k,
      maxAbsLogprobDiff: worst,
      llamaCppText,
      webGpuText,
      sameText: llamaCppText.trim() === webGpuText.trim(),
    };
  } finally {
    await llama.dispose();
  }
}
