import { join } from 'node:path';
import { writeFileAtomic } from '@distillery/core/node';
import type { TokenWindows } from '@distillery/white-box';
import { checkGgufInLlamaCpp, type GgufCheck } from '../lm/gguf-check.js';
import { greedySample } from './evaluate.js';
import type { LmKit, LmModel } from './kit.js';
import type { RunResult } from './train-run.js';

/** The llama.cpp check of the exported GGUF (held-out windows). */
export type ExportCheck = GgufCheck;

export interface ExportResult {
  size: string;
  method: string;
  seed: number;
  /** Paths written: the GGUF and the Hugging Face folder (model.safetensors + config.json). */
  gguf?: string;
  huggingFace?: string;
  check?: ExportCheck;
}

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
  const { kit, student } = o;
  const promptIds = kit.encode(o.prompt);
  return checkGgufInLlamaCpp({
    student,
    gguf,
    windows: o.heldOut,
    prompt: o.prompt,
    promptTokens: promptIds.length,
    maxTokens: o.sampleTokens,
    webGpuGreedy: async (tokens) => kit.decode([...promptIds, ...(await greedySample(student, promptIds, tokens, kit.eos))]),
    field: 'export.verify',
  });
}
