import * as z from 'zod/mini';
import { parseConfig } from './config.js';
import { describeValue, DistilleryError } from './errors.js';

/** What a callback sees of a training step (the `Distiller`'s `step` event). */
export interface CallbackStep {
  step: number;
  epoch: number;
  batchIndex: number;
  totalSteps: number;
  loss: number;
  terms: Record<string, number>;
  hyper: Record<string, number>;
  ms: number;
}

export interface CallbackEvaluation {
  epoch: number;
  step: number;
  metrics: Record<string, number>;
}

export interface CallbackRunEnd {
  steps: number;
  stopped: boolean;
  lastLoss: number;
  metrics: Record<string, number>;
}

/**
 * Hooks the `Distiller` awaits during a run (`DistillerOptions.callbacks`). Unlike event
 * handlers, hooks may be async (write a file, save a model) and may stop the run; their
 * `saveState` goes into every checkpoint, so a resumed run continues with the same state
 * (an early stop stays stopped on rerun). Names must be unique within a run.
 */
export interface TrainingCallback {
  readonly name: string;
  /** Before the first step (after a checkpoint was loaded: `resumed`, `step` > 0). */
  onStart?(info: { step: number; totalSteps: number; resumed: boolean }): void | Promise<void>;
  onStep?(event: CallbackStep): void | Promise<void>;
  onEvaluation?(event: CallbackEvaluation): void | Promise<void>;
  /** After the last step, an early stop or `stop()`; `summary` is the run's summary. */
  onEnd?(summary: CallbackRunEnd): void | Promise<void>;
  /** Asked after each evaluation and at start: true ends the run there (checkpointed). */
  shouldStop?(): boolean;
  saveState?(): Record<string, unknown>;
  loadState?(state: Record<string, unknown>): void;
}

export const earlyStoppingSchema = z.strictObject({
  /** A metric the evaluation returns (`error`, `crossEntropy`, `accuracy`...). */
  metric: z.string().check(z.minLength(1)),
  /** Whether lower or higher is better. Default: `max` for accuracy-like names, else `min`. */
  mode: z.optional(z.enum(['min', 'max'])),
  /** Evaluations without an improvement of more than `minDelta` before stopping. */
  patience: z._default(z.number().check(z.int(), z.gte(1)), 5),
  minDelta: z._default(z.number().check(z.gte(0)), 0),
});

export type EarlyStoppingConfig = z.input<typeof earlyStoppingSchema>;

/**
 * Stops the run when `metric` has not improved for `patience` evaluations (Keras' and
 * Lightning's `EarlyStopping`). Its state (best value, evaluations since, stopped) is checkpointed.
 */
export function earlyStopping(
  config: EarlyStoppingConfig,
): TrainingCallback & { readonly best: number | undefined; readonly stopped: boolean } {
  const { metric, patience, minDelta, mode: given } = parseConfig(earlyStoppingSchema, config, 'earlyStopping');
  const mode = given ?? (/acc|agree|f1|precision|recall/i.test(metric) ? 'max' : 'min');
  let best: number | undefined;
  let since = 0;
  let stopped = false;
  return {
    name: 'early-stopping',
    get best() {
      return best;
    },
    get stopped() {
      return stopped;
    },
    onEvaluation({ metrics }) {
      const value = metrics[metric];
      if (typeof value !== 'number') {
        throw new DistilleryError(
          'E_BAD_CONFIG',
          `earlyStopping.metric ${describeValue(metric)} is not among the evaluation's metrics: ${Object.keys(metrics).join(', ') || '(none)'}`,
          {
            field: 'earlyStopping.metric',
            value: metric,
            expected: `one of ${Object.keys(metrics).join(', ')}`,
          },
        );
      }
      const better = best === undefined || (mode === 'min' ? value < best - minDelta : value > best + minDelta);
      if (better) {
        best = value;
        since = 0;
      } else if (++since >= patience) {
        stopped = true;
      }
    },
    shouldStop: () => stopped,
    saveState: () => ({ best: best ?? null, since, stopped }),
    loadState(state) {
      best = typeof state.best === 'number' ? state.best : undefined;
      since = typeof state.since === 'number' ? state.since : 0;
      stopped = state.stopped === true;
    },
  };
}
