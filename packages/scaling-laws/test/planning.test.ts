import { describe, expect, it } from 'vitest';
import {
  BUSBRIDGE_SUPERVISED,
  distillationCrossover,
  distilledLossFromBaseline,
  BUSBRIDGE_DISTILLATION,
  forwardFlopsPerToken,
  optimalTeacherLoss,
  planDistillation,
  predictSupervisedLoss,
  supervisedBaselineFor,
  tokensForSupervisedLoss,
  type DistillationPlan,
  type ScenarioName,
} from '../src/index.js';

const SCENARIOS: ScenarioName[] = ['free', 'inference', 'pretraining', 'both'];
const STUDENT = 1e9;
const BUDGET = 1e21;

/** Student loss of a hand-picked teacher under the plan's scenario, spending the same budget. */
function lossWithTeacher(plan: DistillationPlan, teacherParams: number, teacherTokens: number): number {
  const f = (n: number) => forwardFlopsPerToken(n);
  const left = plan.budget - plan.deltaPretrain * 3 * f(teacherParams) * teacherTokens;
  const studentTokens = left / (3 * f(plan.studentParams) + plan.deltaLogits * f(teacherParams));
  if (studentTokens < 1e6) return Infinity;
  const teacherLoss = predictSupervisedLoss(BUSBRIDGE_SUPERVISED, teacherParams, teacherTokens);
  const baseline = predictSupervisedLoss(BUSBRIDGE_SUPERVISED, plan.studentParams, studentTokens);
  return distilledLossFromBaseline(BUSBRIDGE_DISTILLATION, { studentParams: plan.studentParams, studentTokens, teacherLoss }, baseline);
}

describe('planDistillation', () => {
  const plans = Object.fromEntries(
    SCENARIOS.map((s) => [s, planDistillation({ studentParams: STUDENT, budget: BUDGET, scenario: s })]),
  ) as Record<ScenarioName, DistillationPlan>;

  it.each(SCENARIOS)('%s: spends exactly the budget, split as the scenario says', (scenario) => {
    const plan = plans[scenario];
    expect(plan.feasible).toBe(true);
    expect(plan.compute.total / BUDGET).toBeCloseTo(1, 9);
    expect(plan.compute.student).toBeCloseTo(3 * 2 * STUDENT * plan.studentTokens, -6);
    expect(plan.compute.teacherInference > 0).toBe(plan.deltaLogits > 0);
    expect(plan.compute.teacherPretraining > 0).toBe(plan.deltaPretrain > 0);
    expect(plan.teacherLoss).toBeCloseTo(predictSupervisedLoss(BUSBRIDGE_SUPERVISED, plan.teacherParams, plan.teacherTokens), 9);
    for (const x of [plan.studentTokens, plan.teacherParams, plan.teacherTokens]) {
      expect(x).toBeGreaterThanOrEqual(1e6);
      expect(x).toBeLessThanOrEqual(1e17);
    }
  });

  it.each(['inference', 'pretraining', 'both'] as const)('%s: no nearby teacher does better', (scenario) => {
    const plan = plans[scenario];
    for (const dn of [0.9, 1, 1.1]) {
      for (const dd of [0.9, 1, 1.1]) {
        const teacherTokens = Math.min(1e17, plan.teacherTokens * dd);
        expect(lossWithTeacher(plan, plan.teacherParams * dn, teacherTokens)).toBeGreaterThanOrEqual(plan.studentLoss - 1e-9);
      }
    }
  });

  it('paying for more of the teacher never helps', () => {
    expect(plans.free.studentLoss).toBeLessThanOrEqual(plans.inference.studentLoss);
    expect(plans.free.studentLoss).toBeLessThanOrEqual(plans.pretraining.studentLoss);
    expect(plans.inference.studentLoss).toBeLessThanOrEqual(plans.both.studentLoss);
    expect(plans.pretraining.studentLoss).toBeLessThanOrEqual(plans.both.studentLoss);
  });

  it('free teacher: picks the loss-optimal teacher, and the cheapest one that reaches it', () => {
    const plan = plans.free;
    expect(plan.teacherChoice).toBe('cheapest-teacher-for-optimal-loss');
    expect(plan.studentTokens).toBeCloseTo(BUDGET / (6 * STUDENT), -3);
    const best = optimalTeacherLoss({ studentParams: STUDENT, studentTokens: plan.studentTokens });
    expect(plan.teacherLoss).toBeCloseTo(best.teacherLoss, 6);
    expect(plan.studentLoss).toBeCloseTo(best.studentLoss, 9);
    const pretraining = (n: number) => 6 * n * tokensForSupervisedLoss(BUSBRIDGE_SUPERVISED, n, plan.teacherLoss)!;
    for (const factor of [0.8, 1.25]) expect(pretraining(plan.teacherParams * factor)).toBeGreaterThan(pretraining(plan.teacherParams));
  });

  it('compares with the same student trained on the whole budget', () => {
    const baseline = supervisedBaselineFor({ studentParams: STUDENT, budget: BUDGET });
    expect(plans.free.supervisedBaseline).toEqual(baseline);
    expect(baseline.tokens).toBeCloseTo(BUDGET / (6 * STUDENT), -3);
    expect(plans.free.advantage).toBeCloseTo(baseline.loss - plans.free.studentLoss, 12);
    expect(plans.free.distillationWins).toBe(plans.free.advantage > 0);
  });

  it('reports an infeasible budget instead of inventing a plan', () => {
    const plan = planDistillation({ studentParams: 1e10, budget: 1e15, scenario: 'pretraining' });
    expect(plan.feasible).toBe(false);
    expect(plan.distillationWins).toBe(false);
  });

  it('rejects unknown scenarios and bad budgets', () => {
    expect(() => planDistillation({ studentParams: STUDENT, budget: BUDGET, scenario: 'cheap' as ScenarioName })).toThrow(/scenario/);
    expect(() => planDistillation({ studentParams: STUDENT, budget: -1, scenario: 'free' })).toThrow(/budget/);
  });
});

describe('distillationCrossover', () => {
  it('finds where distillation from an existing teacher stops beating supervised training', () => {
    const crossover = distillationCrossover({ studentParams: STUDENT, scenario: 'free' });
    expect(crossover.status).toBe('crossover');
    const at = planDistillation({ studentParams: STUDENT, budget: crossover.budget!, scenario: 'free' });
    expect(Math.abs(at.advantage)).toBeLessThan(1e-5);
    expect(planDistillation({ studentParams: STUDENT, budget: crossover.budget! / 3, scenario: 'free' }).distillationWins).toBe(true);
    expect(planDistillation({ studentParams: STUDENT, budget: crossover.budget! * 3, scenario: 'free' }).distillationWins).toBe(false);
  });

  it('grows with student size', () => {
    const small = distillationCrossover({ studentParams: 3e8, scenario: 'free' });
    const large = distillationCrossover({ studentParams: 3e9, scenario: 'free' });
    expect(large.budget!).toBeGreaterThan(small.budget!);
  });

  it("with the teacher trained for one student, supervised training wins (the paper's finding)", () => {
    expect(distillationCrossover({ studentParams: STUDENT, scenario: 'both' }).status).toBe('supervised-always');
  });
});
