import { DistilleryError, isDistilleryError } from './errors.js';

/**
 * A loss kernel that finds NaN in the student's logits after some optimiser steps reports the
 * symptom ("studentLogits row 0 contains NaN"); the usual cause is a learning rate so high that
 * the weights diverged. This names it: E_NON_FINITE with `field: 'lr'`, the value, the step and the
 * original field. Errors at step 0 (before any update) are bad inputs and pass through unchanged.
 */
export function withDivergenceHint(error: unknown, step: number, lr: number | undefined): unknown {
  if (!isDistilleryError(error, 'E_NON_FINITE') || step === 0 || lr === undefined) return error;
  const symptom = error.message.replace(/^E_NON_FINITE: /, '');
  return new DistilleryError(
    'E_NON_FINITE',
    `training diverged after ${step} optimiser steps (${symptom}); the learning rate lr = ${lr} is the usual cause: lower it (schedules.lr / the config's lr) or add warm-up`,
    { ...error.details, field: 'lr', value: lr, step, symptomField: error.details.field },
    { cause: error },
  );
}
