import type { TrainingCallback } from '@distillery/core';
import type { CliIO } from '../command.js';

/**
 * Progress with ETA on stderr: a redrawn line on a terminal, else a line per epoch (and, with
 * `everySteps`, every that many steps: a `steps` run may be a single epoch).
 */
export function progressCallback(io: CliIO, label: string, { everySteps }: { everySteps?: number } = {}): TrainingCallback {
  let started = 0;
  let firstStep = 0;
  let lastDraw = 0;
  const line = (step: number, total: number, status: string) => {
    const elapsed = (performance.now() - started) / 1000;
    const done = step - firstStep;
    const eta = done > 0 ? (elapsed / done) * (total - step) : Number.NaN;
    const pct = ((100 * step) / total).toFixed(0).padStart(3);
    return `${label} ${pct}% step ${step}/${total} ${elapsed.toFixed(0)}s eta ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : '?'} ${status}`;
  };
  return {
    name: 'progress',
    onStart: ({ step, totalSteps, resumed }) => {
      started = performance.now();
      firstStep = step;
      if (resumed) io.stderr(`${label}: resuming at step ${step}/${totalSteps}\n`);
    },
    onStep: (e) => {
      const now = performance.now();
      if (io.isTTY && (now - lastDraw > 200 || e.step === e.totalSteps)) {
        lastDraw = now;
        io.stderr(`\r${line(e.step, e.totalSteps, `loss ${e.loss.toFixed(4)}`).padEnd(100)}`);
      }
      const due = (e.batchIndex === 0 && e.epoch > 0) || (everySteps !== undefined && e.step % everySteps === 0 && e.step < e.totalSteps);
      if (!io.isTTY && due) io.stderr(`${line(e.step, e.totalSteps, `loss ${e.loss.toFixed(4)}`)}\n`);
    },
    onEvaluation: (e) =>
      io.stderr(
        `${io.isTTY ? '\r' : ''}epoch ${e.epoch + 1} (step ${e.step}): ${Object.entries(e.metrics)
          .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`)
          .join(', ')}`.padEnd(io.isTTY ? 100 : 0) + '\n',
      ),
    onEnd: (s) =>
      io.stderr(
        `${label}: ${s.stopped ? 'stopped' : 'finished'} at step ${s.steps}${Number.isFinite(s.lastLoss) ? `, last loss ${s.lastLoss.toFixed(4)}` : ''}\n`,
      ),
  };
}
