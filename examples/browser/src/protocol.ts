/** Messages between the page (main.ts) and the training worker (worker.ts). */

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
