import {
  predictDistilledLoss,
  predictSupervisedLoss,
  SeededRandom,
  type DistillationLaw,
  type DistillationRun,
  type SupervisedLaw,
  type SupervisedRun,
} from '../src/index.js';

/** Runs drawn log-uniformly in N and tokens-per-parameter, with multiplicative log-normal noise. */
export function syntheticSupervisedRuns(law: SupervisedLaw, count: number, noise: number, seed: number): SupervisedRun[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const params = Math.exp(Math.log(5e7) + random.next() * Math.log(1e10 / 5e7));
    const tokens = params * Math.exp(Math.log(2) + random.next() * Math.log(500 / 2));
    return { params, tokens, loss: predictSupervisedLoss(law, params, tokens) * Math.exp(noise * random.normal()), row: i + 1 };
  });
}

/** A grid design like the paper's: student sizes x tokens per parameter x teacher losses. */
export function syntheticDistillationRuns(
  laws: { supervised: SupervisedLaw; distillation: DistillationLaw },
  noise: number,
  seed: number,
): DistillationRun[] {
  const random = new SeededRandom(seed);
  const runs: DistillationRun[] = [];
  for (const studentParams of [1.43e8, 3.07e8, 5.46e8, 1.1e9, 1.82e9, 3.5e9, 7.75e9]) {
    for (const ratio of [5, 20, 80, 320]) {
      for (const teacherLoss of [1.9, 2.1, 2.3, 2.6, 3.0]) {
        const studentTokens = studentParams * ratio;
        const clean = predictDistilledLoss(laws, { studentParams, studentTokens, teacherLoss });
        runs.push({
          studentParams,
          studentTokens,
          teacherLoss,
          studentLoss: clean * Math.exp(noise * random.normal()),
          row: runs.length + 1,
        });
      }
    }
  }
  return runs;
}
