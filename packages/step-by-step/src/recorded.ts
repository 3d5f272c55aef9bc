import { ReplayTeacher } from '@distillery/black-box';
import type { StepByStepDataset } from './data.js';
import type { Exemplar, PresetName, StepByStepExample, TaskPreset } from './presets.js';
import { buildFewShotPrompt } from './prompt.js';

/** A replay of the release's recorded outputs for these examples, keyed by the prompts they produce. */
export function recordedTeacher(
  examples: readonly StepByStepExample[],
  outputs: readonly string[],
  prompt: { preset: TaskPreset; exemplars: readonly Exemplar[]; instruction?: string },
  name: string,
): ReplayTeacher {
  return new ReplayTeacher(
    examples.map((example, i) => ({ request: { prompt: buildFewShotPrompt(prompt, example) }, completion: outputs[i]! })),
    { name },
  );
}

/** The preset the release's datasets are parsed with: arithmetic for SVAMP, multiple-choice for CQA. */
export function defaultPreset(dataset: StepByStepDataset): PresetName {
  return dataset === 'svamp' ? 'arithmetic' : 'multiple-choice';
}
