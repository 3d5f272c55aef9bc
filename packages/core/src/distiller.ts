import type { TrainingCallback } from './callbacks.js';
import type { CheckpointStore, TrainingCheckpoint } from './checkpoint.js';
import type { HiddenLoss, HiddenLossOutput } from './contracts/hidden-loss.js';
import type { Loss } from './contracts/loss.js';
import type { Optimizer } from './contracts/optimizer.js';
import type { Student } from './contracts/student.js';
import type { TeacherTargets, WhiteBoxTeacher } from './contracts/teacher.js';
import type { TensorLike } from './contracts/tensor.js';
import { withDivergenceHint } from './divergence-hint.js';
import { DistilleryError, badValue, isDistilleryError } from './errors.js';
import { TypedEmitter } from './events.js';
import { toSchedulers, type Scheduler, type SchedulerLike } from './schedulers.js';

/**
 * Batches by (epoch, index). It must be deterministic — the same arguments give the same batch —
 * so that a resumed run sees exactly the data order of an uninterrupted one.
 */
export interface DataSource<TBatch> {
  readonly batchesPerEpoch: number;
  batch(epoch: number, index: number): Promise<TBatch>;
}

export interface StepEvent {
  step: number;
  epoch: number;
  batchIndex: number;
  totalSteps: number;
  loss: number;
  /** Reduced value of each named loss term. */
  terms: Record<string, number>;
  /** Scheduled values used in this step (learning rate included, as `lr`). */
  hyper: Record<string, number>;
  ms: number;
}

export interface DistillerEvents {
  step: StepEvent;
  epoch: { epoch: number; step: number; meanLoss: number };
  evaluation: { epoch: number; step: number; metrics: Record<string, number> };
  checkpoint: { epoch: number; step: number };
  stopped: { epoch: number; step: number };
}

export interface DistillerOptions<TBatch, T extends TensorLike> {
  /** Absent: supervised training with the same loop (the loss then needs labels). */
  teacher?: WhiteBoxTeacher<TBatch, T>;
  student: Student<TBatch, T>;
  loss: Loss<T>;
  /**
   * Feature matching between named student and teacher hidden states, added to `loss`. Needs a
   * teacher and a student that expose hidden states; its parameters train with the student's.
   */
  hiddenLoss?: HiddenLoss<T>;
  optimizer: Optimizer<T>;
  data: DataSource<TBatch>;
  /** Hard labels of a batch, when it has them (an unlabelled transfer set returns undefined). */
  labels?: (batch: TBatch) => T | undefined;
  /** Per-row weights of a batch's loss (`LossInputs.rowWeights`), when it has them. */
  rowWeights?: (batch: TBatch) => T | undefined;
  /** Normaliser of a batch's loss (`LossInputs.normalizer`), when it sets one. */
  normalizer?: (batch: TBatch) => number | undefined;
  epochs: number;
  /**
   * `lr` is required; every other key is passed to the loss as a hyper-parameter. A plain number
   * is a constant (`{ lr: cosine({ from: 1e-3, to: 1e-4 }), temperature: 4 }`).
   */
  schedules: { lr: SchedulerLike } & Record<string, SchedulerLike>;
  /** Called after every epoch (and at the end); returns named metrics. */
  evaluate?: (info: { epoch: number; step: number }) => Promise<Record<string, number>>;
  checkpoint?: { store: CheckpointStore; everySteps?: number };
  /**
   * Hooks awaited during the run (logs, early stopping, best-model keeping...); their state is
   * checkpointed by name. See `TrainingCallback`.
   */
  callbacks?: readonly TrainingCallback[];
  /** State the caller wants saved in and restored from checkpoints. */
  extraState?: { save(): Record<string, unknown>; load(state: Record<string, unknown>): void };
}

export interface RunSummary {
  steps: number;
  epochs: number;
  stopped: boolean;
  /** Loss of the last step trained (kept in checkpoints, so a rerun of a finished job reports it); NaN when no step ever ran. */
  lastLoss: number;
  /** The last evaluation's metrics (kept in checkpoints too); `{}` without `evaluate`. */
  metrics: Record<string, number>;
}

/**
 * The loop that composes the contracts:
 * batch → teacher targets → student forward → fused loss + dL/dlogits → student backward
 * → optimiser step with the scheduled learning rate → next step.
 */
export class Distiller<TBatch, T extends TensorLike> extends TypedEmitter<DistillerEvents> {
  readonly #options: DistillerOptions<TBatch, T>;
  readonly #schedules: { lr: Scheduler } & Record<string, Scheduler>;
  #stopRequested = false;
  #lastLoss = Number.NaN;
  #metrics: Record<string, number> = {};

  constructor(options: DistillerOptions<TBatch, T>) {
    super();
    if (!(Number.isInteger(options.epochs) && options.epochs >= 1)) throw badValue('epochs', options.epochs, 'an integer >= 1');
    if (!(Number.isInteger(options.data.batchesPerEpoch) && options.data.batchesPerEpoch >= 1)) {
      throw badValue('data.batchesPerEpoch', options.data.batchesPerEpoch, 'an integer >= 1');
    }
    if (options.schedules?.lr === undefined) throw badValue('schedules.lr', undefined, 'a Scheduler or a number (the learning rate)');
    this.#schedules = toSchedulers('schedules', options.schedules) as { lr: Scheduler } & Record<string, Scheduler>;
    if (options.teacher && options.teacher.vocabSize !== options.student.vocabSize) {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `teacher.vocabSize (${options.teacher.vocabSize}) differs from student.vocabSize (${options.student.vocabSize})`,
        { field: 'teacher.vocabSize', value: options.teacher.vocabSize, expected: String(options.student.vocabSize) },
      );
    }
    if (options.hiddenLoss) bindHiddenLoss(options);
    const names = (options.callbacks ?? []).map((c) => c.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined)
      throw badValue('callbacks', duplicate, 'callbacks with distinct names (their state is checkpointed by name)');
    this.#options = options;
  }

  get totalSteps(): number {
    return this.#options.epochs * this.#options.data.batchesPerEpoch;
  }

  /** Finishes the current step, saves a checkpoint (when a store is set) and returns. */
  stop(): void {
    this.#stopRequested = true;
  }

  async #saveCheckpoint(step: number, epoch: number, batchIndex: number): Promise<void> {
    const { checkpoint, student, optimizer, extraState, hiddenLoss } = this.#options;
    if (!checkpoint) return;
    const state: TrainingCheckpoint = {
      step,
      epoch,
      batchIndex,
      student: await student.saveState(),
      optimizer: await optimizer.saveState(),
      extra: extraState?.save() ?? {},
      progress: { lastLoss: Number.isFinite(this.#lastLoss) ? this.#lastLoss : null, metrics: this.#metrics },
      callbacks: Object.fromEntries((this.#options.callbacks ?? []).flatMap((c) => (c.saveState ? [[c.name, c.saveState()]] : []))),
      ...(hiddenLoss ? { hiddenLoss: await hiddenLoss.saveState() } : {}),
    };
    await checkpoint.store.save(state);
    this.emit('checkpoint', { epoch, step });
  }

  /** Trains to the end (or until `stop()`); with `resume` (default) continues from the stored checkpoint. */
  async run({ resume = true }: { resume?: boolean } = {}): Promise<RunSummary> {
    const o = this.#options;
    this.#stopRequested = false;
    let step = 0;
    let startEpoch = 0;
    let startIndex = 0;
    this.#lastLoss = Number.NaN;
    this.#metrics = {};
    let resumed = false;
    if (resume && o.checkpoint) {
      const saved = await o.checkpoint.store.load();
      if (saved) {
        try {
          await o.student.loadState(saved.student);
          await o.optimizer.loadState(saved.optimizer);
          // A checkpoint without hidden-loss state cannot resume a run that has one: loadState refuses it by tensor name.
          if (o.hiddenLoss) await o.hiddenLoss.loadState(saved.hiddenLoss ?? {});
          o.extraState?.load(saved.extra);
          for (const callback of o.callbacks ?? []) callback.loadState?.(saved.callbacks?.[callback.name] ?? {});
        } catch (error) {
          throw doesNotFit(error, o.checkpoint.store);
        }
        ({ step, epoch: startEpoch, batchIndex: startIndex } = saved);
        this.#lastLoss = saved.progress?.lastLoss ?? Number.NaN;
        this.#metrics = { ...saved.progress?.metrics };
        resumed = true;
      }
    }
    const callbacks = o.callbacks ?? [];
    // A fresh run starts its callbacks fresh too (state left from an earlier run() is dropped).
    if (!resumed) for (const callback of callbacks) callback.loadState?.({});
    const finish = async (summary: RunSummary): Promise<RunSummary> => {
      for (const callback of callbacks) await callback.onEnd?.(summary);
      return summary;
    };
    for (const callback of callbacks) await callback.onStart?.({ step, totalSteps: this.totalSteps, resumed });
    // A run a callback already ended (an early stop) stays ended on rerun.
    if (callbacks.some((c) => c.shouldStop?.()))
      return finish({ steps: step, epochs: startEpoch, stopped: true, lastLoss: this.#lastLoss, metrics: { ...this.#metrics } });
    const total = this.totalSteps;
    const perEpoch = o.data.batchesPerEpoch;
    for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
      let epochLoss = 0;
      let epochSteps = 0;
      for (let index = epoch === startEpoch ? startIndex : 0; index < perEpoch; index++) {
        const started = performance.now();
        const hyper: Record<string, number> = {};
        for (const [name, scheduler] of Object.entries(this.#schedules)) hyper[name] = scheduler.value(step, total);
        const batch = await o.data.batch(epoch, index);
        const hidden = o.hiddenLoss;
        // Old teachers take one argument: ask for hidden states only when a hidden loss needs them.
        const targets: TeacherTargets<T> | undefined = o.teacher
          ? await (hidden ? o.teacher.targets(batch, { hidden: hidden.teacherLayers }) : o.teacher.targets(batch))
          : undefined;
        const logits = await o.student.forward(batch, { training: true });
        const labels = o.labels?.(batch);
        const { lr, ...lossHyper } = hyper;
        const rowWeights = o.rowWeights?.(batch);
        const normalizer = o.normalizer?.(batch);
        const output = await o.loss.compute({
          studentLogits: logits,
          targets,
          labels,
          hyper: lossHyper,
          ...(rowWeights ? { rowWeights } : {}),
          ...(normalizer !== undefined ? { normalizer } : {}),
        });
        let hiddenOutput: HiddenLossOutput<T> | undefined;
        if (hidden) {
          await hidden.zeroGrad();
          hiddenOutput = await hidden.compute({
            student: o.student.hiddenStates!(hidden.studentLayers, { training: true }),
            teacher: teacherHiddenStates(targets!, hidden.teacherLayers, o.teacher!.name),
            hyper: lossHyper,
          });
        }
        await o.student.zeroGrad();
        await (hiddenOutput
          ? o.student.backward(output.gradLogits, { hidden: hiddenOutput.gradHidden })
          : o.student.backward(output.gradLogits));
        let loss: number;
        try {
          loss = (await output.total()) + (hiddenOutput ? await hiddenOutput.total() : 0);
        } catch (error) {
          throw withDivergenceHint(error, step, lr);
        }
        if (!Number.isFinite(loss)) {
          // Stop before the optimiser writes non-finite values into the weights: the last checkpoint stays valid.
          throw withDivergenceHint(
            new DistilleryError(
              'E_NON_FINITE',
              `loss became ${loss} at step ${step} (epoch ${epoch}, batch ${index}); weights were not updated`,
              {
                field: 'loss',
                value: loss,
                step,
              },
            ),
            step,
            lr,
          );
        }
        await o.optimizer.step(hidden ? [...o.student.parameters(), ...hidden.parameters()] : o.student.parameters(), lr!);
        const terms: Record<string, number> = {};
        for (const [name, term] of Object.entries(output.terms)) terms[name] = await term.reduced();
        for (const [name, term] of Object.entries(hiddenOutput?.terms ?? {})) terms[name] = await term();
        step++;
        this.#lastLoss = loss;
        epochLoss += loss;
        epochSteps++;
        const event: StepEvent = { step, epoch, batchIndex: index, totalSteps: total, loss, terms, hyper, ms: performance.now() - started };
        this.emit('step', event);
        for (const callback of callbacks) await callback.onStep?.(event);
        const nextEpoch = index + 1 === perEpoch ? epoch + 1 : epoch;
        const nextIndex = index + 1 === perEpoch ? 0 : index + 1;
        const every = o.checkpoint?.everySteps;
        if (this.#stopRequested) {
          await this.#saveCheckpoint(step, nextEpoch, nextIndex);
          this.emit('stopped', { epoch, step });
          return finish({ steps: step, epochs: epoch, stopped: true, lastLoss: this.#lastLoss, metrics: { ...this.#metrics } });
        }
        if (every && step % every === 0) await this.#saveCheckpoint(step, nextEpoch, nextIndex);
      }
      this.emit('epoch', { epoch, step, meanLoss: epochSteps ? epochLoss / epochSteps : Number.NaN });
      if (o.evaluate) {
        const metrics = await o.evaluate({ epoch, step });
        this.#metrics = metrics;
        this.emit('evaluation', { epoch, step, metrics });
        for (const callback of callbacks) await callback.onEvaluation?.({ epoch, step, metrics });
      }
      if (epoch + 1 < o.epochs && (this.#stopRequested || callbacks.some((c) => c.shouldStop?.()))) {
        await this.#saveCheckpoint(step, epoch + 1, 0);
        this.emit('stopped', { epoch, step });
        return finish({ steps: step, epochs: epoch + 1, stopped: true, lastLoss: this.#lastLoss, metrics: { ...this.#metrics } });
      }
    }
    await this.#saveCheckpoint(step, o.epochs, 0);
    return finish({ steps: step, epochs: o.epochs, stopped: false, lastLoss: this.#lastLoss, metrics: { ...this.#metrics } });
  }
}

/** A checkpoint the run's student/optimiser refuses: name the file and the way to start fresh. */
function doesNotFit(error: unknown, store: CheckpointStore): unknown {
  if (!isDistilleryError(error)) return error;
  const where = store.path ?? 'the checkpoint store';
  return new DistilleryError(
    error.code,
    `${where} does not fit this run (${error.message.replace(/^E_[A-Z_]+: /, '')}); it was saved by a different student, optimiser or hidden loss. Start fresh with run({ resume: false }) (CLI: --no-resume), or delete or move ${where}`,
    { ...error.details, checkpoint: store.path },
    { cause: error },
  );
}

function bindHiddenLoss<TBatch, T extends TensorLike>({ hiddenLoss, teacher, student }: DistillerOptions<TBatch, T>): void {
  if (!teacher) throw badValue('teacher', undefined, `a white-box teacher (hiddenLoss ${hiddenLoss!.name} matches teacher hidden states)`);
  if (!student.hiddenStateWidths || !student.hiddenStates) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `student ${student.name} exposes no hidden states (hiddenStateWidths/hiddenStates), which hiddenLoss ${hiddenLoss!.name} needs`,
      { field: 'student', value: student.name },
    );
  }
  if (!teacher.hiddenStateWidths) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `teacher ${teacher.name} exposes no hidden states (hiddenStateWidths), which hiddenLoss ${hiddenLoss!.name} needs`,
      { field: 'teacher', value: teacher.name },
    );
  }
  hiddenLoss!.bind({ student: student.hiddenStateWidths(), teacher: teacher.hiddenStateWidths() });
}

function teacherHiddenStates<T extends TensorLike>(
  targets: TeacherTargets<T>,
  names: readonly string[],
  teacher: string,
): Record<string, T> {
  const out: Record<string, T> = {};
  for (const name of names) {
    const state = targets.hidden?.[name];
    if (!state) {
      throw new DistilleryError('E_BAD_VALUE', `teacher ${teacher} returned no hidden state ${JSON.stringify(name)} with its targets`, {
        field: 'targets.hidden',
        value: name,
        expected: `the hidden states ${names.join(', ')}`,
      });
    }
    out[name] = state;
  }
  return out;
}
