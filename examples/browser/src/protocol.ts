/** Messages between the page (main.ts) and its workers: worker.ts (MNIST) and lm-worker.ts (TinyStories). */
import type { LmRunSettings } from './lm/settings.js';

export interface RunSettings {
  /** CI-sized: fewer digits and epochs. */
  quick: boolean;
  temperature: number;
  teacherEpochs: number;
  studentEpochs: number;
}

export type Phase = 'teacher' | 'student';

export type ToWorker = { type: 'start'; settings: RunSettings; teacherFile?: ArrayBuffer } | { type: 'stop' } | { type: 'download' };

export type FromWorker =
  | { type: 'adapter'; name: string; fallback: boolean; features: string[] }
  | { type: 'data'; train: number; test: number }
  | { type: 'step'; phase: Phase; step: number; totalSteps: number; loss: number }
  | { type: 'epoch'; phase: Phase; epoch: number; testError: number }
  | { type: 'finished'; phase: Phase; testError: number; seconds: number; steps: number }
  | { type: 'done'; stopped: boolean }
  | { type: 'student'; bytes: ArrayBuffer; name: string }
  | { type: 'error'; code: string; message: string };

/** Messages between the page and the TinyStories worker (lm-worker.ts). */
export type ToLmWorker =
  { type: 'start'; settings: LmRunSettings; teacherFile?: { name: string; bytes: ArrayBuffer } } | { type: 'stop' } | { type: 'download' };

export type StoryAuthor = 'teacher' | 'student';

export type FromLmWorker =
  | { type: 'adapter'; name: string; fallback: boolean; features: string[] }
  | { type: 'teacher'; name: string; parameters: number; layers: number; width: number; vocab: number }
  | { type: 'student'; parameters: number; layers: number; width: number }
  | { type: 'data'; stories: number; tokens: number }
  | { type: 'step'; step: number; totalSteps: number; loss: number }
  | { type: 'trained'; steps: number; seconds: number; stopped: boolean }
  | { type: 'story'; author: StoryAuthor; text: string; tokens: number; seconds: number }
  | { type: 'done'; stopped: boolean }
  | { type: 'gguf'; bytes: ArrayBuffer; name: string }
  | { type: 'error'; code: string; message: string };
