import type { DataSource } from '@distillery/core';
import type { TokenWindows, WindowBatch } from '@distillery/white-box';

export type { WindowBatch } from '@distillery/white-box';

/**
 * Exactly `steps` batches as one epoch of core's loop: step i is batch `i mod n` of pass
 * `⌊i / n⌋` over the windows (n = the windows' batches per pass), so every method trains the same
 * number of steps on the same batches, and a resumed run replays the same order.
 */
export class FixedSteps implements DataSource<WindowBatch> {
  readonly batchesPerEpoch: number;

  constructor(
    readonly windows: TokenWindows,
    steps: number,
  ) {
    this.batchesPerEpoch = steps;
  }

  /** Passes over the training windows these steps make. */
  get passes(): number {
    return this.batchesPerEpoch / this.windows.batchesPerEpoch;
  }

  async batch(_epoch: number, index: number): Promise<WindowBatch> {
    const n = this.windows.batchesPerEpoch;
    return this.windows.batch(Math.floor(index / n), index % n);
  }
}
