import * as z from 'zod/mini';
import { parseConfig } from './config.js';
import { badValue } from './errors.js';

/**
 * A hyper-parameter as a function of the optimiser step. `step` counts from 0;
 * `totalSteps` is the run's length, so a schedule can be written once for any run length.
 */
export interface Scheduler {
  readonly kind: string;
  value(step: number, totalSteps: number): number;
}

/** A schedule, or a plain number meaning that value at every step. */
export type SchedulerLike = Scheduler | number;

export function isScheduler(value: unknown): value is Scheduler {
  return typeof value === 'object' && value !== null && typeof (value as Scheduler).value === 'function';
}

/**
 * A `Scheduler` from a schedule or a plain number (a constant). Anything else is E_BAD_VALUE
 * naming `field`, so `temperature: '4'` fails where it is passed, not deep inside a step.
 */
export function toScheduler(field: string, value: unknown): Scheduler {
  if (isScheduler(value)) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return constant(value);
  throw badValue(
    field,
    value,
    'a finite number (a constant) or a Scheduler (an object with value(step, totalSteps), e.g. cosine({ from, to }))',
  );
}

/** `toScheduler` over every entry of a record of schedules (fields named `${prefix}.${key}`). */
export function toSchedulers<K extends string>(prefix: string, schedules: Record<K, unknown>): Record<K, Scheduler> {
  if (typeof schedules !== 'object' || schedules === null)
    throw badValue(prefix, schedules, 'an object of schedules ({ lr: 1e-3, temperature: 4, ... })');
  const out = {} as Record<K, Scheduler>;
  for (const [key, value] of Object.entries(schedules) as [K, unknown][]) out[key] = toScheduler(`${prefix}.${key}`, value);
  return out;
}

const finite = z.number().check(z.refine(Number.isFinite, 'a finite number'));
const positiveInt = z.number().check(z.int(), z.positive());

export const constantSchema = z.strictObject({ value: finite });
export const rampSchema = z.strictObject({
  from: finite,
  to: finite,
  /** Length of the ramp in steps; defaults to the run's total steps. After it, the value stays at `to`. */
  steps: z.optional(positiveInt),
});
export const stepDecaySchema = z
  .strictObject({
    initial: finite,
    /** Multiplier applied at each milestone. */
    gamma: z.number().check(z.positive()),
    /** Decay every this many steps... */
    every: z.optional(positiveInt),
    /** ...or at these steps (ascending). */
    milestones: z.optional(z.array(z.number().check(z.int(), z.nonnegative()))),
  })
  .check(
    z.refine((c) => (c.every === undefined) !== (c.milestones === undefined), {
      message: 'exactly one of every, milestones',
      path: ['every'],
    }),
  );

export type RampConfig = z.infer<typeof rampSchema>;

function checkStep(step: number, totalSteps: number): void {
  if (!(Number.isInteger(step) && step >= 0)) throw badValue('step', step, 'an integer >= 0');
  if (!(Number.isInteger(totalSteps) && totalSteps >= 1)) throw badValue('totalSteps', totalSteps, 'an integer >= 1');
}

/** Progress through a ramp in [0, 1]; a ramp of length n reaches `to` at step n. */
function progress(step: number, length: number): number {
  return Math.min(1, step / length);
}

export function constant(value: number): Scheduler {
  parseConfig(constantSchema, { value }, 'constant');
  return { kind: 'constant', value: (step, total) => (checkStep(step, total), value) };
}

export function linear(config: RampConfig): Scheduler {
  const { from, to, steps } = parseConfig(rampSchema, config, 'scheduler');
  return {
    kind: 'linear',
    value(step, total) {
      checkStep(step, total);
      return from + (to - from) * progress(step, steps ?? total);
    },
  };
}

/** Half-cosine from `from` to `to` (SGDR-style annealing without restarts). */
export function cosine(config: RampConfig): Scheduler {
  const { from, to, steps } = parseConfig(rampSchema, config, 'scheduler');
  return {
    kind: 'cosine',
    value(step, total) {
      checkStep(step, total);
      const t = progress(step, steps ?? total);
      return to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * t));
    },
  };
}

/** `initial · gamma^k`, where k counts the milestones passed (or `floor(step / every)`). */
export function stepDecay(config: z.input<typeof stepDecaySchema>): Scheduler {
  const { initial, gamma, every, milestones } = parseConfig(stepDecaySchema, config, 'step');
  return {
    kind: 'step',
    value(step, total) {
      checkStep(step, total);
      const passed = every !== undefined ? Math.floor(step / every) : milestones!.filter((m) => step >= m).length;
      return initial * gamma ** passed;
    },
  };
}

/**
 * Linear warm-up from `from` to the first value of `then` over `steps`, then `then`
 * evaluated on the remaining steps (its step 0 is the first step after warm-up).
 */
export function warmup(config: { steps: number; from?: number; then: Scheduler }): Scheduler {
  const steps = parseConfig(positiveInt, config.steps, 'warmup.steps');
  const from = config.from ?? 0;
  const { then } = config;
  return {
    kind: 'warmup',
    value(step, total) {
      checkStep(step, total);
      const rest = Math.max(1, total - steps);
      if (step >= steps) return then.value(step - steps, rest);
      const target = then.value(0, rest);
      return from + (target - from) * (step / steps);
    },
  };
}
