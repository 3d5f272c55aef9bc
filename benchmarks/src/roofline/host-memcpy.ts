import { Worker } from 'node:worker_threads';

/**
 * The host's own memory bandwidth, for adapters that are CPUs (lavapipe, SwiftShader): their
 * "GPU memory" is this memory, so no kernel on them can stream faster than the host copies.
 * Measured natively-free with `TypedArray.prototype.set` (a memcpy inside V8) in worker threads
 * over one SharedArrayBuffer, each worker copying its own slice, all started together.
 */
export interface HostCopyMeasure {
  workers: number;
  /** Bytes copied per repetition, all workers together. */
  bytes: number;
  /** Wall-clock ms of each repetition (all workers done). */
  samples: number[];
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { buffer, offset, length } = workerData;
const src = new Uint8Array(buffer, offset, length);
const dst = new Uint8Array(buffer, offset + workerData.half, length);
parentPort.on('message', (times) => {
  for (let i = 0; i < times; i++) dst.set(src);
  parentPort.postMessage(dst[length - 1]);
});
`;

/** A pool of copy workers over one shared buffer: `bytes` in total are copied per repetition. */
export class HostCopyPool {
  readonly #workers: Worker[];
  readonly bytes: number;
  readonly #times: number;

  /** `bytes` per repetition; `times` copies of each slice per repetition (small slices: repeat to stay measurable). */
  constructor(workers: number, bytes: number, times = 1) {
    const slice = Math.floor(bytes / workers / 64) * 64;
    this.bytes = slice * workers * times;
    this.#times = times;
    const half = slice * workers;
    const buffer = new SharedArrayBuffer(2 * half);
    new Uint8Array(buffer).fill(7);
    this.#workers = Array.from(
      { length: workers },
      (_, w) => new Worker(WORKER_SOURCE, { eval: true, workerData: { buffer, offset: w * slice, length: slice, half } }),
    );
  }

  /** Wall-clock ms for every worker to copy its slice `times` times. */
  async once(): Promise<number> {
    const start = performance.now();
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const fail = (error: Error) => reject(error);
            w.once('error', fail);
            w.once('message', () => {
              w.off('error', fail);
              resolve();
            });
            w.postMessage(this.#times);
          }),
      ),
    );
    return performance.now() - start;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
