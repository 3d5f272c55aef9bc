import type { ModelState } from './contracts/student.js';
import type { OptimizerState } from './contracts/optimizer.js';
import type { HostTensor } from './contracts/tensor.js';

/** Everything a run needs to continue exactly where it stopped. */
export interface TrainingCheckpoint {
  /** Optimiser steps completed. */
  step: number;
  /** Epoch and batch index of the next batch to train on. */
  epoch: number;
  batchIndex: number;
  student: ModelState;
  optimizer: OptimizerState;
  /** Trainable state of the hidden-state loss (its projections), when the run has one. */
  hiddenLoss?: Record<string, HostTensor>;
  /** Free-form JSON state of the caller (RNG states, data source state, best metric...). */
  extra: Record<string, unknown>;
  /**
   * What the run reported so far (the last step's loss, the last evaluation's metrics), so a
   * resumed or already-finished run reports the same summary as an uninterrupted one.
   */
  progress?: { lastLoss: number | null; metrics: Record<string, number> };
  /** Each training callback's `saveState()`, by callback name. */
  callbacks?: Record<string, Record<string, unknown>>;
}

export interface CheckpointStore {
  /** Where the checkpoint lives (a file path), named in errors when a checkpoint does not fit the run. */
  readonly path?: string;
  /** Must be atomic: a crash during `save` leaves the previous checkpoint loadable. */
  save(checkpoint: TrainingCheckpoint): Promise<void>;
  load(): Promise<TrainingCheckpoint | undefined>;
}

/** Keeps the latest checkpoint in memory (deep-copied), for tests and short-lived runs. */
export class MemoryCheckpointStore implements CheckpointStore {
  #latest: TrainingCheckpoint | undefined;

  async save(checkpoint: TrainingCheckpoint): Promise<void> {
    this.#latest = structuredClone(checkpoint);
  }

  async load(): Promise<TrainingCheckpoint | undefined> {
    return this.#latest && structuredClone(this.#latest);
  }
}

export type { ModelState, OptimizerState };
