import type { CliIO } from './command.js';

export interface Progress {
  /** `done` of `total`, with an optional short status (loss, rate...). */
  update(done: number, status?: string): void;
  finish(status?: string): void;
}

/**
 * A one-line progress bar on stderr when it is a terminal; otherwise silent until `finish`,
 * which prints one line, so logs and CI output stay readable.
 */
export function createProgress(io: CliIO, label: string, total: number): Progress {
  const started = performance.now();
  let last = 0;
  const render = (done: number, status = '') => {
    const width = 24;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * width);
    const elapsed = (performance.now() - started) / 1000;
    const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : 0;
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${elapsed.toFixed(0)}s eta ${eta.toFixed(0)}s ${status}`;
  };
  return {
    update(done, status) {
      if (!io.isTTY) return;
      const now = performance.now();
      if (now - last < 100 && done < total) return;
      last = now;
      io.stderr(`\r${render(done, status).padEnd(100)}`);
    },
    finish(status) {
      io.stderr(`${io.isTTY ? '\r' : ''}${render(total, status).padEnd(io.isTTY ? 100 : 0)}\n`);
    },
  };
}
