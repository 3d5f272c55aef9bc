/** The TinyStories run's settings: plain data, so the page can read them without bundling the GPU code. */
export interface LmRunSettings {
  /** Tokens per window (stories260K was trained on 512; less is faster). */
  context: number;
  /** Windows per step. */
  sequences: number;
  steps: number;
  /** The first N stories of the excerpt are the transfer set. */
  trainStories: number;
  student: { width: number; layers: number; heads: number; kvHeads: number; ffn: number };
  lr: number;
  warmupSteps: number;
  temperature: number;
  /** Weight of the hard next-token cross-entropy beside the soft KD term (weight 1). */
  hardWeight: number;
  prompt: string;
  /** Tokens each model adds to the prompt. */
  storyTokens: number;
  seed: number;
}

/** The distill-lm example's smallest student (w32-l2) and optimiser, sized for a page. */
export const LM_SETTINGS: LmRunSettings = {
  context: 64,
  sequences: 4,
  steps: 60,
  trainStories: 200,
  student: { width: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 86 },
  lr: 6e-3,
  warmupSteps: 6,
  temperature: 2,
  hardWeight: 0.5,
  prompt: 'Once upon a time',
  storyTokens: 48,
  seed: 0,
};

/** CI-sized: a few short steps and short stories. */
export const LM_QUICK_SETTINGS: LmRunSettings = {
  ...LM_SETTINGS,
  context: 32,
  steps: 10,
  trainStories: 24,
  warmupSteps: 2,
  storyTokens: 24,
};
