import { join } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { logSumExpRow } from '@distillery/nn';
import { readFloat32 } from '@distillery/webgpu';
import { releaseLmBatch, type TokenWindows } from '@distillery/white-box';
import { greedySample } from './evaluate.js';
import type { LmKit, LmModel } from './kit.js';
import { loadLlamaCppPlugin } from './topk-cache.js';
import type { RunResult } from './train-run.js';

export interface ExportCheck {
  /** Positions compared (teacher-forced, held-out windows). */
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

export interface ExportResult {
  size: string;
  method: string;
  seed: number;
  /** Paths written: the GGUF and the Hugging Face folder (model.safetensors + config.json). */
  gguf?: string;
  huggingFace?: string;
  check?: ExportCheck;
}

/** Windows of the held-out text compared in the check. */
const CHECK_WINDOWS = 2;
const CHECK_TOP = 64;

/**
 * Writes a trained student as `student.gguf` (llama.cpp, the teacher's tokenizer) and `hf/`
 * (safetensors with Llama tensor names + config.json) into its run folder; with `verify`, loads the
 * GGUF in node-llama-cpp and compares its teacher-forced log-probabilities and its greedy text with
 * the WebGPU student's.
 */
export async function exportStudent(o: {
  kit: LmKit;
  student: LmModel;
  dir: string;
  run: RunResult;
  heldOut: TokenWindows;
  verify: boolean;
  prompt: string;
  sampleTokens: number;
  log: (line: string) => void;
}): Promise<ExportResult> {
  const { kit, student, dir, run } = o;
  const result: ExportResult = { size: run.size, method: run.method, seed: run.seed };
  if (kit.toGguf) {
    result.gguf = join(dir, 'student.gguf');
    await writeFileAtomic(result.gguf, await kit.toGguf(student));
  }
  if (kit.toHuggingFace) {
    result.huggingFace = join(dir, 'hf');
    for (const [name, data] of Object.entries(await kit.toHuggingFace(student)))
      await writeFileAtomic(join(result.huggingFace, name), data);
  }
  if (o.verify && result.gguf) result.check = await checkInLlamaCpp(o, result.gguf);
  o.log(
    `exported ${run.size}/${run.method}/seed-${run.seed} → ${result.gguf ?? '(no GGUF writer)'}${result.check ? `; llama.cpp max |Δ log p| ${result.check.maxAbsLogprobDiff.toExponential(2)}, same greedy text: ${result.check.sameText}` : ''}`,
  );
  return result;
}

async function checkInLlamaCpp(o: Parameters<typeof exportStudent>[0], gguf: string): Promise<ExportCheck> {
  const { kit, student, heldOut } = o;
  const T = heldOut.context;
  const V = student.vocabSize;
  const { LlamaCppTeacher } = await loadLlamaCppPlugin();
  const llama = await LlamaCppTeacher.load({ modelPath: gguf, threads: 1, contextSize: T + 8, exact: true });
  try {
    const count = Math.min(CHECK_WINDOWS, heldOut.windows);
    const batch = heldOut.orderedBatch(0, count);
    let logits: Float32Array;
    try {
      logits = await readFloat32(await student.forward(batch, { training: false }));
    } finally {
      releaseLmBatch(batch);
    }
    const ids = Array.from({ length: count }, (_, i) => i);
    const { tokens, labels } = heldOut.hostWindows(ids);
    // The student's GGUF says context_length = T; node-llama-cpp's distribution at the last slot of
    // a full context is off (about 1e-2), so the check stops one position short of it.
    const room = Math.min(T, llama.contextSize - 1);
    const sequences = ids.map((_, s) => {
      let n = 0;
      while (n < room && labels[s * T + n] !== heldOut.ignoreIndex) n++;
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
        const o2 = (s * T + t) * V;
        const lse = logSumExpRow(logits, o2, V);
        for (let j = 0; j < k; j++) {
          const logp = lp[row * k + j]!;
          // Probabilities below ~1e-6 lose their digits in llama.cpp's float32 softmax.
          if (logp < -12) continue;
          worst = Math.max(worst, Math.abs(logp - (logits[o2 + idx[row * k + j]!]! - lse)));
        }
        positions++;
      }
    });
    const completion = await llama.complete({ prompt: o.prompt, maxTokens: o.sampleTokens, temperature: 0 });
    const promptIds = kit.encode(o.prompt);
    const webGpu = kit.decode([...promptIds, ...(await greedySample(student, promptIds, o.sampleTokens, kit.eos))]);
    const llamaCppText = o.prompt + completion.text;
    if (!Number.isFinite(worst))
      throw new DistilleryError('E_NON_FINITE', `llama.cpp log-probabilities of ${gguf} are not finite`, {
        field: 'gguf',
        value: gguf,
        file: gguf,
      });
    return {
      positions,
      topK: k,
      maxAbsLogprobDiff: worst,
      llamaCppText,
      webGpuText: webGpu,
      sameText: llamaCppText.trim() === webGpu.trim(),
    };
  } finally {
    await llama.dispose();
  }
}
