import { badValue, DistilleryError } from '@distillery/core';
import type { ClassificationData } from '@distillery/white-box';

export interface TableOptions {
  format: 'jsonl' | 'csv';
  path: string;
  label: string;
  features?: string | string[];
  classes?: number;
}

function badInput(path: string, row: number, column: string, message: string): DistilleryError {
  return new DistilleryError('E_BAD_INPUT', `${path}, row ${row}, ${column}: ${message}`, { field: column, row, column, path });
}

/** Features and labels from JSONL (a numeric-array field) or CSV (numeric columns). */
export function parseTable(text: string, options: TableOptions): ClassificationData {
  const { path, label } = options;
  const rows: { x: number[]; y: number | undefined }[] = [];
  if (options.format === 'jsonl') {
    const field = typeof options.features === 'string' ? options.features : 'features';
    if (Array.isArray(options.features))
      throw badValue('features', options.features, 'the name of the JSONL field holding a numeric array');
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch (error) {
        throw badInput(path, i + 1, '(line)', `not JSON (${(error as Error).message})`);
      }
      const x = record[field];
      if (!Array.isArray(x) || !x.every((v) => typeof v === 'number' && Number.isFinite(v)))
        throw badInput(path, i + 1, field, 'expected an array of finite numbers');
      rows.push({ x: x as number[], y: record[label] as number | undefined });
    });
  } else {
    const lines = text.split(/\r?\n/).filter((l) => l.trim());
    const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
    const labelColumn = header.indexOf(label);
    const featureNames = Array.isArray(options.features)
      ? options.features
      : typeof options.features === 'string'
        ? [options.features]
        : header.filter((h) => h !== label);
    const featureColumns = featureNames.map((name) => {
      const at = header.indexOf(name);
      if (at < 0) throw badValue('features', name, `a column of ${path} (${header.join(', ')})`);
      return at;
    });
    lines.forEach((line, i) => {
      const cells = line.split(',');
      const x = featureColumns.map((c) => {
        const v = Number(cells[c]);
        if (!Number.isFinite(v)) throw badInput(path, i + 2, header[c]!, `expected a number, got ${JSON.stringify(cells[c])}`);
        return v;
      });
      rows.push({ x, y: labelColumn >= 0 ? Number(cells[labelColumn]) : undefined });
    });
  }
  if (rows.length === 0) throw new DistilleryError('E_BAD_INPUT', `${path} has no rows`, { field: 'path', value: path });
  const featureSize = rows[0]!.x.length;
  const labelled = rows.every((r) => r.y !== undefined);
  rows.forEach((r, i) => {
    if (r.x.length !== featureSize) throw badInput(path, i + 1, 'features', `has ${r.x.length} values, row 1 has ${featureSize}`);
    if (labelled && !(Number.isInteger(r.y) && r.y! >= 0))
      throw badInput(path, i + 1, label, `expected a class index (an integer >= 0), got ${JSON.stringify(r.y)}`);
  });
  const classes = options.classes ?? (labelled ? Math.max(...rows.map((r) => r.y!)) + 1 : undefined);
  if (classes === undefined) throw badValue('classes', undefined, `the number of classes (${path} has no labels to count them from)`);
  const features = new Float32Array(rows.length * featureSize);
  rows.forEach((r, i) => features.set(r.x, i * featureSize));
  return { features, rows: rows.length, featureSize, classes, ...(labelled ? { labels: Int32Array.from(rows, (r) => r.y!) } : {}) };
}
