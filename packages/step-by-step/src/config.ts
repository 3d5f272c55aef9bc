import {
  collectRunShape,
  exampleFieldsSchema,
  exemplarSchema,
  presetNameSchema,
  samplingSchema,
  teacherSpecSchema,
} from '@distillery/black-box/node';
import * as z from 'zod/mini';
import { studentTrainingSchema } from './student/train.js';

const int = z.number().check(z.int());

export const stepByStepConfigSchema = z.strictObject({
  plugins: z.optional(z.array(z.string().check(z.minLength(1)))),
  data: z
    .strictObject({
      /** The release folder (…/data/step-by-step; default: the copy vendored in this package) with `dataset`… */
      dir: z.optional(z.string().check(z.minLength(1))),
      dataset: z.optional(z.enum(['svamp', 'cqa'])),
      /** …or your own JSONL files. */
      train: z.optional(z.string().check(z.minLength(1))),
      test: z.optional(z.string().check(z.minLength(1))),
      fields: z.optional(exampleFieldsSchema),
      /** Use only the first `limit` rows of each split (CI-sized runs). */
      limit: z.optional(int.check(z.positive())),
    })
    .check(
      z.superRefine((d, ctx) => {
        if (d.dir !== undefined && d.dataset === undefined)
          ctx.addIssue({ code: 'custom', message: 'both dir and dataset for the release', path: ['dataset'] });
        if ((d.dataset !== undefined) === (d.train !== undefined))
          ctx.addIssue({
            code: 'custom',
            message: 'either dataset (and optionally dir), or train (and optionally test) files',
            path: ['train'],
          });
      }),
    ),
  /** Default: arithmetic for svamp, multiple-choice for cqa. */
  preset: z.optional(presetNameSchema),
  exemplars: z.optional(z.array(exemplarSchema)),
  instruction: z.optional(z.string()),
  /** `"recorded"` (replay the release's PaLM outputs) or a teacher spec. Default "recorded" for the release. */
  teacher: z.optional(teacherSpecSchema),
  sampling: z.optional(samplingSchema),
  collect: z.optional(z.strictObject(collectRunShape)),
  build: z.optional(
    z.strictObject({
      labels: z.optional(z.enum(['teacher', 'gold'])),
      dropDisagreeing: z.optional(z.boolean()),
      validationFraction: z.optional(z.number().check(z.gte(0), z.lt(1))),
      seed: z.optional(int),
    }),
  ),
  /** Output folder: completions/, train/validation/test.jsonl, rejected.jsonl, report.json. */
  output: z.string().check(z.minLength(1)),
  /** Student training: standard vs step-by-step students over seeds (needs a GPUDevice, see StepByStepHooks.device). */
  train: z.optional(studentTrainingSchema),
});

export type StepByStepConfig = z.input<typeof stepByStepConfigSchema>;
