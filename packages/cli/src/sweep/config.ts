import { readFile } from 'node:fs/promises';
import { DistilleryError, isDistilleryError, parseConfig } from '@distillery/core';
import { z } from 'zod';
import { parseDistillLmConfig, studentSizeSchema, type DistillLmSettings, type StudentSize } from '../distill-lm/config.js';

const int = z.number().int();

/**
 * The `sweep` section of an LM distillation config: the grid of token budgets (as optimiser steps;
 * the sizes are the config's `students`), what is fitted, and the students the fitted laws are
 * checked on (outside the grid).
 */
export const sweepSectionSchema = z
  .object({
    /** Token budgets D_S as optimiser steps of `sequences` × `context` positions (each its own run and cosine schedule). */
    steps: z.array(int.positive()).min(2),
    /** The seed of every run (one seed: the sweep's spread between seeds is not measured). */
    seed: int.min(0).max(0xffffffff).default(0),
    /** Supervised law form: gamma free (busbridge, 6 coefficients) or gamma = 1 (chinchilla, 5). */
    form: z.enum(['busbridge', 'chinchilla']).default('chinchilla'),
    /** Bootstrap resamples for the intervals. */
    bootstrap: int.min(0).default(100),
    /** Latin-hypercube starts of the fast search. */
    starts: int.min(1).default(64),
    check: z
      .object({
        /** A student outside the grid (larger N_S than every grid size), trained for `steps`. */
        student: studentSizeSchema,
        steps: int.positive(),
        /** The compute-optimal check's budget: this times the sweep's largest run's training FLOPs. */
        budgetFactor: z.number().gt(1).default(1.25),
        /** Architectures the compute-optimal N* is realised with (the closest non-embedding count, in log). */
        family: z.array(studentSizeSchema).min(1),
        /** A compute-optimal check that would need more steps than this is predicted but not trained (listed as skipped). */
        maxSteps: int.positive().default(400),
        /** Also train the planned size's iso-FLOP neighbours in the family (is N* really the best?). */
        neighbours: z.boolean().default(true),
      })
      .strict(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (new Set(s.steps).size !== s.steps.length) ctx.addIssue({ code: 'custom', message: 'steps must be distinct', path: ['steps'] });
  });

export type SweepSection = z.output<typeof sweepSectionSchema>;

export interface SweepSettings {
  /** The LM distillation settings every run shares (`students` are the grid's sizes; `steps` is unused). */
  base: DistillLmSettings;
  sweep: SweepSection;
}

/** The supervised and the distilled arm of every grid cell. */
export const SWEEP_METHODS = ['scratch', 'kd'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

/** Coefficients each law has: a grid with fewer runs than these cannot be fitted. */
export function lawParameterCount(law: 'supervised' | 'distillation', form: 'busbridge' | 'chinchilla'): number {
  return law === 'distillation' ? 9 : form === 'busbridge' ? 6 : 5;
}

/** The grid must give each law at least as many runs as it has coefficients (the fit cannot be under-determined). */
export function checkGridSize(settings: SweepSettings, file = 'config'): void {
  const runs = settings.base.students.length * settings.sweep.steps.length;
  const need = Math.max(lawParameterCount('supervised', settings.sweep.form), lawParameterCount('distillation', settings.sweep.form));
  if (runs < need) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `${file}: the sweep grid has ${settings.base.students.length} student sizes × ${settings.sweep.steps.length} token budgets = ${runs} runs per method, fewer than the ${need} coefficients of the distillation law; add sizes (students) or budgets (sweep.steps)`,
      {
        field: 'sweep.steps',
        value: settings.sweep.steps,
        students: settings.base.students.map((s) => s.name),
        expected: `students × steps >= ${need}`,
        file,
      },
    );
  }
  const distinctSizes = new Set(settings.base.students.map((s) => JSON.stringify([s.width, s.layers, s.heads, s.kvHeads, s.ffn]))).size;
  if (distinctSizes !== settings.base.students.length) {
    throw new DistilleryError('E_BAD_CONFIG', `${file}: two students have the same architecture; the sweep's sizes must differ`, {
      field: 'students',
      value: settings.base.students.map((s) => s.name),
      file,
    });
  }
}

export function parseSweepConfig(value: unknown, file = 'config'): SweepSettings {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `${file}: a sweep config is a JSON object (an LM distillation config with a "sweep" section)`,
      { field: 'config', value, file },
    );
  }
  const { sweep, ...rest } = value as Record<string, unknown>;
  if (sweep === undefined) {
    throw new DistilleryError('E_BAD_CONFIG', `${file}: the config has no "sweep" section ({ steps: [...], check: {...} })`, {
      field: 'sweep',
      value: undefined,
      file,
    });
  }
  const base = parseDistillLmConfig(rest, file);
  let section: SweepSection;
  try {
    section = parseConfig(sweepSectionSchema, sweep);
  } catch (error) {
    if (isDistilleryError(error)) {
      const details = error.details as { field?: string };
      throw new DistilleryError(
        error.code,
        `${file}: sweep.${error.message.slice(error.code.length + 2)}`,
        { ...error.details, field: `sweep.${details.field ?? ''}`, file },
        { cause: error },
      );
    }
    throw error;
  }
  const settings = { base, sweep: section };
  checkGridSize(settings, file);
  return settings;
}

export async function readSweepConfig(path: string): Promise<SweepSettings> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new DistilleryError('E_NOT_FOUND', `config file ${path} cannot be read`, { field: 'config', value: path, file: path });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DistilleryError('E_BAD_CONFIG', `config file ${path} is not valid JSON`, { field: 'config', value: path, file: path });
  }
  return parseSweepConfig(value, path);
}

/**
 * `--quick`: the smallest three sizes (the narrowest architectures), three budgets of a few steps,
 * a corpus slice and short windows: 18 runs that exercise the whole pipeline in CI, not a result.
 */
export function quickSweepSettings(s: SweepSettings): SweepSettings {
  const tiny = (size: StudentSize, width: number, layers: number): StudentSize => ({
    name: `q-${size.name}`,
    width,
    layers,
    heads: 2,
    kvHeads: 1,
    ffn: width * 2,
  });
  const [a, b, c] = [s.base.students[0]!, s.base.students[1] ?? s.base.students[0]!, s.base.students[2] ?? s.base.students[0]!];
  return {
    base: {
      ...s.base,
      corpus: { ...s.base.corpus, trainStories: 16, evalStories: 3 },
      context: Math.min(s.base.context, 32),
      students: [tiny(a, 8, 1), tiny(b, 16, 1), tiny(c, 16, 2)],
      sequences: Math.min(s.base.sequences, 2),
      optimizer: { ...s.base.optimizer, warmupSteps: 1 },
      evaluate: { ...s.base.evaluate, sequences: 8, sampleTokens: 2 },
      checkpointEvery: 2,
    },
    sweep: {
      ...s.sweep,
      steps: [2, 3, 4],
      bootstrap: Math.min(s.sweep.bootstrap, 10),
      starts: Math.min(s.sweep.starts, 16),
      check: {
        ...s.sweep.check,
        student: tiny(s.sweep.check.student, 24, 2),
        steps: 4,
        maxSteps: 12,
        family: [tiny(a, 8, 1), tiny(b, 16, 1), tiny(c, 16, 2), tiny(s.sweep.check.student, 24, 2)],
      },
    },
  };
}
