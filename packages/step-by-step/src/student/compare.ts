import { join } from 'node:path';
import type { StepEvent } from '@distillery/core';
import type { TrainingMode } from './batches.js';
import { trainStudent, type StudentRunResult, type StudentTrainingSettings, type TrainStudentOptions } from './train.js';

export interface Spread {
  mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  std: number;
  min: number;
  max: number;
  values: number[];
}

export function spread(values: readonly number[]): Spread {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

export interface ModeSummary {
  /** Greedy `predict:` accuracy on the test rows, over seeds. */
  testAccuracy: Spread;
  /** Teacher-forced CE of the test labels in the trained form (nats per character), over seeds. */
  testLabelCrossEntropy: Spread;
  /** Teacher-forced rationale CE on the validation rows, over seeds. */
  validationRationaleCrossEntropy?: Spread;
  seconds: Spread;
  tokensPerSecond: Spread;
}

export interface StudentComparison {
  settings: StudentTrainingSettings;
  trainRows: number;
  testRows: number;
  steps: number;
  parameters: number;
  runs: StudentRunResult[];
  byMode: Partial<Record<TrainingMode, ModeSummary>>;
  /** step-by-step minus standard, on the means (when both modes ran). */
  difference?: { testAccuracy: number; testLabelCrossEntropy: number };
}

/** A run's options, less what the comparison chooses per run (mode, seed, folder, step callback). */
export interface CompareStudentsOptions extends Omit<TrainStudentOptions, 'mode' | 'seed' | 'dir' | 'onStep'> {
  /** Each run writes to `<dir>/<mode>-seed<seed>/` and resumes from there. */
  dir?: string;
  onStep?: (run: { mode: TrainingMode; seed: number }, event: StepEvent) => void;
  onRun?: (result: StudentRunResult) => void;
}

/**
 * The paper's comparison at a size this machine trains: for every seed, a standard student
 * (labels only) and a step-by-step student (labels + λ·rationales), same architecture, same
 * steps, same initialisation per seed, evaluated on the same test rows.
 */
export async function compareStudents(o: CompareStudentsOptions): Promise<StudentComparison> {
  const test = o.settings.evaluate.limit ? o.test.slice(0, o.settings.evaluate.limit) : o.test;
  const runs: StudentRunResult[] = [];
  for (const seed of o.settings.seeds) {
    for (const mode of o.settings.modes) {
      const { onStep, onRun: _onRun, dir, ...shared } = o;
      const result = await trainStudent({
        ...shared,
        mode,
        seed,
        test,
        dir: dir ? join(dir, `${mode}-seed${seed}`) : undefined,
        onStep: onStep && ((e) => onStep({ mode, seed }, e)),
      });
      runs.push(result);
      o.onRun?.(result);
    }
  }
  const byMode: StudentComparison['byMode'] = {};
  for (const mode of o.settings.modes) {
    const mine = runs.filter((r) => r.mode === mode);
    const rationale = mine.map((r) => r.validationRationaleCrossEntropy?.crossEntropy).filter((x): x is number => x !== undefined);
    byMode[mode] = {
      testAccuracy: spread(mine.map((r) => r.test.accuracy)),
      testLabelCrossEntropy: spread(mine.map((r) => r.testLabelCrossEntropy.crossEntropy)),
      ...(rationale.length ? { validationRationaleCrossEntropy: spread(rationale) } : {}),
      seconds: spread(mine.map((r) => r.seconds)),
      tokensPerSecond: spread(mine.map((r) => r.tokensPerSecond)),
    };
  }
  const standard = byMode.standard;
  const sbs = byMode['step-by-step'];
  return {
    settings: o.settings,
    trainRows: o.train.length,
    testRows: test.length,
    steps: runs[0]?.steps ?? 0,
    parameters: runs[0]?.parameters ?? 0,
    runs,
    byMode,
    ...(standard && sbs
      ? {
          difference: {
            testAccuracy: sbs.testAccuracy.mean - standard.testAccuracy.mean,
            testLabelCrossEntropy: sbs.testLabelCrossEntropy.mean - standard.testLabelCrossEntropy.mean,
          },
        }
      : {}),
  };
}
