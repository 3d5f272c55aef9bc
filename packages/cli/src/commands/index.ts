import type { CliCommand } from '../command.js';
import { demoCommand } from './demo.js';
import { selfcheckCommand } from './selfcheck.js';
import { fitCommand } from './fit.js';
import { planCommand } from './plan.js';
import { collectCommand } from './collect.js';
import { stepByStepCommand } from './step-by-step.js';
import { distillCommand } from './distill.js';
import { distillLmCommand } from './distill-lm.js';
import { mergeCommand } from './merge.js';
import { sweepCommand } from './sweep.js';

/** Every subcommand, in the order `distillery --help` lists them. */
export const commands: readonly CliCommand[] = [
  selfcheckCommand,
  demoCommand,
  distillCommand,
  distillLmCommand,
  sweepCommand,
  fitCommand,
  planCommand,
  collectCommand,
  mergeCommand,
  stepByStepCommand,
];
