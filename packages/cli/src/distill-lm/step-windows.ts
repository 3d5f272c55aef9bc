import type { DataSource } from '@distillery/core';
import type { LmBatch } from '@distillery/nn';
import { TokenWindows, type TokenCorpus, type TokenWindowsOptions } from '@distillery/white-box';

/** An `LmBatch` that knows which windows of its corpus it holds (the offline cache reads them by id). */
export interface WindowBatch extends LmBatch {
  windows: readonly number[];
}

/** TokenWindows whose batches carry their window ids. */
export class IdentifiedWindows extends TokenWindows {
  constructor(device: GPUDevice, corpus: TokenCorpus, options: TokenWindowsOptions) {
    super(device, corpus, options);
  }

  override windowsBatch(indices: readonly number[]): WindowBatch {
    return { ...super.windowsBatch(indices), windows: [...indices] };
  }
}

/**
 * Exactly `steps` batches as one epoch of core's loop: step i is batch `i mod n` of pass
 * `⌊i / n⌋` over the windows (n = the windows' batches per pass), so every method trains the same
 * number of steps on the same batches, and a resumed run replays the same order.
 */
export class FixedSteps implements DataSource<WindowBatch> {
  readonly batchesPerEpoch: number;

  constructor(
    readonly windows: IdentifiedWindows,
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
    return (await this.windows.batch(Math.floor(index / n), index % n)) as WindowBatch;
  }
}
