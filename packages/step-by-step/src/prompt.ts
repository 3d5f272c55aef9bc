import type { CompletionRequest } from '@distillery/core';
import type { CollectItem } from '@distillery/black-box';
import type { Exemplar, StepByStepExample, TaskPreset } from './presets.js';

export interface FewShotOptions {
  preset: TaskPreset;
  /** Worked examples (input, rationale, label), in prompt order. */
  exemplars: readonly Exemplar[];
  /** Text put before the exemplars (an instruction), if any. */
  instruction?: string;
}

/**
 * Few-shot chain-of-thought prompt (Wei et al. 2022 style, as in Distilling step-by-step): the
 * exemplars as `Q: … A: <reasoning> <answer phrase> <label>.` blocks, then the query `Q: … A:`.
 */
export function buildFewShotPrompt({ preset, exemplars, instruction }: FewShotOptions, example: Omit<StepByStepExample, 'id'>): string {
  const blocks = exemplars.map((e) => preset.formatExemplar(e));
  if (instruction) blocks.unshift(instruction.trim());
  blocks.push(preset.formatQuery(example));
  return blocks.join('\n\n');
}

export interface StepByStepRequestOptions extends FewShotOptions {
  /** Sampling for every request (temperature 0 by default, as for PaLM's greedy CoT). */
  sampling?: Omit<CompletionRequest, 'prompt' | 'messages'>;
  /** Add the preset's stop sequences (default true) so the teacher does not invent the next question. */
  useStop?: boolean;
}

/** One collection item per example: id = the example's id, request = its few-shot prompt. */
export function stepByStepItems(examples: readonly StepByStepExample[], options: StepByStepRequestOptions): CollectItem[] {
  const sampling = { temperature: 0, ...options.sampling };
  const stop = options.useStop === false ? sampling.stop : [...(sampling.stop ?? []), ...options.preset.stop];
  return examples.map((example) => ({
    id: example.id,
    request: { ...sampling, ...(stop && stop.length ? { stop } : {}), prompt: buildFewShotPrompt(options, example) },
  }));
}
