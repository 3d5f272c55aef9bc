import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CallbackStep, TrainingCallback } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { renderChart, type ChartSeries } from '@distillery/scaling-laws';

/** One line of metrics.jsonl: a training step or an evaluation. */
export type MetricsRow =
  | { type: 'step'; step: number; epoch: number; loss: number; terms: Record<string, number>; hyper: Record<string, number>; ms: number }
  | { type: 'evaluation'; step: number; epoch: number; metrics: Record<string, number> };

/** Rows of a metrics.jsonl; a torn last line (a killed run) is dropped. */
export async function readMetricsRows(path: string): Promise<MetricsRow[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const rows: MetricsRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as MetricsRow);
    } catch {
      break;
    }
  }
  return rows;
}

/** Flattens rows into CSV: `type,step,epoch,loss,ms,terms.*,hyper.*,metrics.*`. */
export function metricsCsv(rows: readonly MetricsRow[]): string {
  const columns = ['type', 'step', 'epoch', 'loss', 'ms'];
  const flat = rows.map((row) => {
    const out: Record<string, unknown> = { type: row.type, step: row.step, epoch: row.epoch };
    if (row.type === 'step') {
      out.loss = row.loss;
      out.ms = Number(row.ms.toFixed(2));
      for (const [k, v] of Object.entries(row.terms)) out[`terms.${k}`] = v;
      for (const [k, v] of Object.entries(row.hyper)) out[`hyper.${k}`] = v;
    } else {
      for (const [k, v] of Object.entries(row.metrics)) out[`metrics.${k}`] = v;
    }
    for (const key of Object.keys(out)) if (!columns.includes(key)) columns.push(key);
    return out;
  });
  const cell = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  return `${[columns.join(','), ...flat.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n')}\n`;
}

/** The SVG curves of a run: loss and its terms, evaluation metrics, and the schedules (lr, temperature...). */
export function renderCurves(rows: readonly MetricsRow[], title: string): Record<string, string> {
  const steps = rows.filter((r): r is Extract<MetricsRow, { type: 'step' }> => r.type === 'step');
  const evaluations = rows.filter((r): r is Extract<MetricsRow, { type: 'evaluation' }> => r.type === 'evaluation');
  const series = (pick: (row: MetricsRow) => Record<string, number>, from: readonly MetricsRow[]): ChartSeries[] => {
    const names = [...new Set(from.flatMap((r) => Object.keys(pick(r))))];
    return names.map((name) => ({
      label: name,
      style: 'line' as const,
      points: from.filter((r) => Number.isFinite(pick(r)[name])).map((r) => [r.step, pick(r)[name]!] as const),
    }));
  };
  const out: Record<string, string> = {};
  const chart = (file: string, subtitle: string, yLabel: string, list: ChartSeries[]) => {
    const drawn = list.filter((s) => s.points.length > 0);
    if (drawn.length === 0) return;
    // A single point cannot make a line: draw it as a point.
    out[file] = renderChart({
      title,
      subtitle,
      xLabel: 'step',
      yLabel,
      series: drawn.map((s) => (s.points.length === 1 ? { ...s, style: 'points' as const } : s)),
    });
  };
  chart(
    'curves-loss.svg',
    'training loss and its terms, per step',
    'loss',
    series((r) => (r.type === 'step' ? { loss: r.loss, ...r.terms } : {}), steps),
  );
  chart(
    'curves-evaluation.svg',
    'evaluation metrics, per evaluation',
    'value',
    series((r) => (r.type === 'evaluation' ? r.metrics : {}), evaluations),
  );
  for (const [name, s] of Object.entries(
    Object.fromEntries(series((r) => (r.type === 'step' ? r.hyper : {}), steps).map((s) => [s.label, s])),
  )) {
    // A file name without the ':' of a hidden term's `hidden:weight` (not allowed on Windows).
    chart(`curves-${name.replace(/[^\w.-]/g, '-')}.svg`, `the ${name} schedule, per step`, name, [s]);
  }
  return out;
}

/**
 * Writes metrics.jsonl (appended as the run goes; on resume, rows after the checkpoint are
 * dropped, so the file matches an uninterrupted run's), then metrics.csv and the SVG curves at
 * the end of every run.
 */
export function metricsLog(dir: string, options: { curves: boolean; metrics: boolean; title: string }): TrainingCallback {
  const jsonl = join(dir, 'metrics.jsonl');
  let rows: MetricsRow[] = [];
  const append = async (row: MetricsRow) => {
    rows.push(row);
    if (options.metrics) await appendFile(jsonl, `${JSON.stringify(row)}\n`);
  };
  return {
    name: 'metrics-log',
    async onStart({ step, resumed }) {
      rows = resumed ? (await readMetricsRows(jsonl)).filter((r) => r.step <= step) : [];
      if (options.metrics) await writeFileAtomic(jsonl, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    },
    onStep: (e: CallbackStep) =>
      append({ type: 'step', step: e.step, epoch: e.epoch, loss: e.loss, terms: e.terms, hyper: e.hyper, ms: e.ms }),
    onEvaluation: (e) => append({ type: 'evaluation', step: e.step, epoch: e.epoch, metrics: e.metrics }),
    async onEnd() {
      if (options.metrics) await writeFileAtomic(join(dir, 'metrics.csv'), metricsCsv(rows));
      if (options.curves)
        for (const [file, svg] of Object.entries(renderCurves(rows, options.title))) await writeFileAtomic(join(dir, file), svg);
    },
  };
}
