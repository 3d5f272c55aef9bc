import type { ModelState, Student } from '@distillery/core';
import type { LmBatch } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';
import type { StudentSize } from './config.js';

/** A student or teacher the experiment trains, evaluates and exports. */
export interface LmModel extends Student<LmBatch, GpuTensor> {
  readonly device: GPUDevice;
  readonly settings: { context: number };
  readonly parameterCount: number;
  hiddenStateWidths(): Readonly<Record<string, number>>;
  hiddenStates(names: readonly string[], mode: { training: boolean }): Record<string, GpuTensor>;
  release(): void;
}

/** The teacher, its tokenizer and the student factory: everything model-specific in the experiment. */
export interface LmKit {
  /** The teacher's name in reports (its file name). */
  readonly teacherName: string;
  readonly teacher: LmModel;
  readonly vocab: number;
  readonly bos: number;
  readonly eos: number;
  /** Facts of the teacher for the report (width, layers, heads, parameters...). */
  readonly teacherFacts: Record<string, number | string>;
  /** Token ids of `text`, BOS first. */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  createStudent(size: StudentSize, seed: number): LmModel;
  studentFromState(state: ModelState): Promise<LmModel>;
  /** The student as a GGUF llama.cpp loads, with the teacher's tokenizer. */
  toGguf?(student: LmModel): Promise<Uint8Array>;
  /** The student as Hugging Face files: `model.safetensors` and `config.json`. */
  toHuggingFace?(student: LmModel): Promise<Record<string, Uint8Array | string>>;
  dispose(): void;
}
