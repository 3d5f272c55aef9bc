import { DistilleryError, describeValue } from '@distillery/core';
import { parseCsv } from './csv.js';
import { parsePlainNumber, parseQuantity } from './units.js';

/** One supervised training run. */
export interface SupervisedRun {
  /** Non-embedding parameters N. */
  params: number;
  /** Training tokens D. */
  tokens: number;
  /** Final cross-entropy L (nats per token). */
  loss: number;
  /** 1-based data row the run came from, when read from a file (error messages use it). */
  row?: number;
}

/** One distillation run: a student of `studentParams` distilled on `studentTokens` from a teacher. */
export interface DistillationRun {
  studentParams: number;
  studentTokens: number;
  studentLoss: number;
  /** Teacher cross-entropy L_T. When absent, L_T = L(teacherParams, teacherTokens) from the supervised law. */
  teacherLoss?: number;
  teacherParams?: number;
  teacherTokens?: number;
  row?: number;
}

export type SupervisedField = 'params' | 'tokens' | 'loss';
export type DistillationField = 'studentParams' | 'studentTokens' | 'studentLoss' | 'teacherLoss' | 'teacherParams' | 'teacherTokens';

export interface ReadRunsOptions<Field extends string> {
  /** Column name for each field, when it differs from the recognised defaults. */
  columns?: Partial<Record<Field, string>>;
  /** Input format; 'auto' (default) picks JSON when the text starts with '[' or '{'. */
  format?: 'csv' | 'json' | 'auto';
}

/** Column names recognised without a `columns` option (compared case-insensitively, ignoring _ - and spaces). */
export const SUPERVISED_COLUMN_ALIASES: Readonly<Record<SupervisedField, readonly string[]>> = {
  params: ['params', 'n', 'parameters', 'nparams', 'numparams', 'modelsize', 'nonembeddingparams'],
  tokens: ['tokens', 'd', 'data', 'ntokens', 'numtokens', 'trainingtokens'],
  loss: ['loss', 'l', 'crossentropy', 'ce', 'evalloss', 'validationloss', 'valloss'],
};

export const DISTILLATION_COLUMN_ALIASES: Readonly<Record<DistillationField, readonly string[]>> = {
  studentParams: ['studentparams', 'ns', 'params', 'n', 'studentsize'],
  studentTokens: ['studenttokens', 'ds', 'tokens', 'd', 'distillationtokens'],
  studentLoss: ['studentloss', 'ls', 'loss', 'l', 'crossentropy'],
  teacherLoss: ['teacherloss', 'lt', 'teachercrossentropy'],
  teacherParams: ['teacherparams', 'nt', 'teachersize'],
  teacherTokens: ['teachertokens', 'dt', 'teacherdata'],
};

interface Table {
  columns: string[];
  rows: { row: number; where: string; get(column: string): unknown }[];
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/[\s_\-.]/g, '');
}

function tableFromCsv(text: string): Table {
  const csv = parseCsv(text);
  const index = new Map(csv.header.map((name, i) => [name, i]));
  return {
    columns: csv.header,
    rows: csv.rows.map((r, k) => ({
      row: k + 1,
      where: `line ${r.line}`,
      get: (column: string) => {
        const i = index.get(column);
        return i === undefined ? undefined : r.cells[i];
      },
    })),
  };
}

function tableFromObjects(records: readonly unknown[], label: string): Table {
  const columns: string[] = [];
  const seen = new Set<string>();
  records.forEach((record, k) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new DistilleryError(
        'E_BAD_INPUT',
        `row ${k + 1} (${label}[${k}]) is ${describeValue(record)}, expected an object with one key per column`,
        {
          row: k + 1,
          value: record,
        },
      );
    }
    for (const key of Object.keys(record)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  });
  return {
    columns,
    rows: records.map((record, k) => ({
      row: k + 1,
      where: `${label}[${k}]`,
      get: (column: string) => (record as Record<string, unknown>)[column],
    })),
  };
}

function tableFromJson(text: string): Table {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (jsonError) {
    // JSON Lines: one object per line.
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    try {
      parsed = lines.map((l) => JSON.parse(l) as unknown);
    } catch {
      throw new DistilleryError('E_BAD_INPUT', `the runs are neither JSON nor JSON Lines: ${(jsonError as Error).message}`, {});
    }
  }
  if (Array.isArray(parsed)) return tableFromObjects(parsed, 'runs');
  if (parsed !== null && typeof parsed === 'object' && Array.isArray((parsed as { runs?: unknown }).runs)) {
    return tableFromObjects((parsed as { runs: unknown[] }).runs, 'runs');
  }
  throw new DistilleryError('E_BAD_INPUT', 'JSON runs must be an array of objects or { "runs": [...] }', { value: parsed });
}

function toTable(source: string | readonly unknown[], format: 'csv' | 'json' | 'auto'): Table {
  if (typeof source !== 'string') return tableFromObjects(source, 'runs');
  const trimmed = source.trimStart();
  const json = format === 'json' || (format === 'auto' && (trimmed.startsWith('[') || trimmed.startsWith('{')));
  return json ? tableFromJson(source) : tableFromCsv(source);
}

function resolveColumn(
  table: Table,
  field: string,
  requested: string | undefined,
  aliases: readonly string[],
  required: boolean,
): string | null {
  if (requested !== undefined) {
    const exact = table.columns.find((c) => c === requested) ?? table.columns.find((c) => c.toLowerCase() === requested.toLowerCase());
    if (exact !== undefined) return exact;
    throw new DistilleryError(
      'E_BAD_INPUT',
      `column "${requested}" (for ${field}) is missing; the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      {
        column: requested,
        field,
        known: table.columns,
      },
    );
  }
  for (const alias of aliases) {
    const found = table.columns.find((c) => normalise(c) === alias);
    if (found !== undefined) return found;
  }
  if (!required) return null;
  throw new DistilleryError(
    'E_BAD_INPUT',
    `no column for ${field}: expected one named ${aliases.map((a) => `"${a}"`).join(', ')} or given in columns.${field}; the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
    { field, known: table.columns },
  );
}

type Kind = 'count' | 'loss';

function readCell(table: Table['rows'][number], column: string, kind: Kind): number {
  const raw = table.get(column);
  const where = `row ${table.row} (${table.where}), column "${column}"`;
  if (raw === undefined || raw === null || raw === '') {
    throw new DistilleryError('E_BAD_INPUT', `${where} is empty`, { row: table.row, column, value: raw, expected: 'a value' });
  }
  const value = kind === 'count' ? parseQuantity(raw) : parsePlainNumber(raw);
  return checkPositive(value, raw, table.row, column, where, kind);
}

function checkPositive(value: number, raw: unknown, row: number, column: string, where: string, kind: Kind): number {
  const expected = kind === 'count' ? 'a finite count > 0 (e.g. 7e9, "7B", "1.5e12", "300M")' : 'a finite loss > 0';
  if (Number.isNaN(value)) {
    throw new DistilleryError('E_BAD_INPUT', `${where} is ${describeValue(raw)}, which is not a number; expected ${expected}`, {
      row,
      column,
      value: raw,
      expected,
    });
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new DistilleryError('E_BAD_INPUT', `${where} is ${describeValue(raw)}; expected ${expected}`, {
      row,
      column,
      value: raw,
      expected,
    });
  }
  return value;
}

/** Reads supervised runs from CSV, JSON, JSON Lines or an array of objects, validating every cell. */
export function readSupervisedRuns(source: string | readonly unknown[], options: ReadRunsOptions<SupervisedField> = {}): SupervisedRun[] {
  const table = toTable(source, options.format ?? 'auto');
  const columns = {
    params: resolveColumn(table, 'params', options.columns?.params, SUPERVISED_COLUMN_ALIASES.params, true)!,
    tokens: resolveColumn(table, 'tokens', options.columns?.tokens, SUPERVISED_COLUMN_ALIASES.tokens, true)!,
    loss: resolveColumn(table, 'loss', options.columns?.loss, SUPERVISED_COLUMN_ALIASES.loss, true)!,
  };
  return table.rows.map((r) => ({
    params: readCell(r, columns.params, 'count'),
    tokens: readCell(r, columns.tokens, 'count'),
    loss: readCell(r, columns.loss, 'loss'),
    row: r.row,
  }));
}

/**
 * Reads distillation runs. Each needs the teacher's loss, or the teacher's parameters and tokens
 * (then L_T comes from the supervised law when fitting).
 */
export function readDistillationRuns(
  source: string | readonly unknown[],
  options: ReadRunsOptions<DistillationField> = {},
): DistillationRun[] {
  const table = toTable(source, options.format ?? 'auto');
  const pick = (field: DistillationField, required: boolean) =>
    resolveColumn(table, field, options.columns?.[field], DISTILLATION_COLUMN_ALIASES[field], required);
  const studentParams = pick('studentParams', true)!;
  const studentTokens = pick('studentTokens', true)!;
  const studentLoss = pick('studentLoss', true)!;
  const teacherLoss = pick('teacherLoss', false);
  const teacherParams = pick('teacherParams', false);
  const teacherTokens = pick('teacherTokens', false);
  if (teacherLoss === null && (teacherParams === null || teacherTokens === null)) {
    throw new DistilleryError(
      'E_BAD_INPUT',
      `no teacher column: give the teacher's loss (a column named "teacher_loss" or "L_T", or columns.teacherLoss) or its parameters and tokens ("teacher_params" and "teacher_tokens"); the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      { field: 'teacherLoss', known: table.columns },
    );
  }
  return table.rows.map((r) => {
    const run: DistillationRun = {
      studentParams: readCell(r, studentParams, 'count'),
      studentTokens: readCell(r, studentTokens, 'count'),
      studentLoss: readCell(r, studentLoss, 'loss'),
      row: r.row,
    };
    const teacherLossCell = teacherLoss === null ? undefined : r.get(teacherLoss);
    if (teacherLoss !== null && teacherLossCell !== undefined && teacherLossCell !== '' && teacherLossCell !== null) {
      run.teacherLoss = readCell(r, teacherLoss, 'loss');
    } else if (teacherParams !== null && teacherTokens !== null) {
      run.teacherParams = readCell(r, teacherParams, 'count');
      run.teacherTokens = readCell(r, teacherTokens, 'count');
    } else {
      throw new DistilleryError(
        'E_BAD_INPUT',
        `row ${r.row} (${r.where}), column "${teacherLoss}" is empty and there are no teacher parameter and token columns to fall back on`,
        {
          row: r.row,
          column: teacherLoss,
          value: teacherLossCell,
          expected: 'a finite loss > 0',
        },
      );
    }
    return run;
  });
}

function validateField(run: object, index: number, field: string, kind: Kind, optional = false): void {
  const value = (run as Record<string, unknown>)[field];
  if (optional && value === undefined) return;
  const row = (run as { row?: number }).row ?? index + 1;
  checkPositive(typeof value === 'number' ? value : NaN, value, row, field, `row ${row}, column "${field}"`, kind);
}

/** Checks runs given as objects (not read from a file); errors name the row and the field. */
export function validateSupervisedRuns(runs: readonly SupervisedRun[]): void {
  runs.forEach((run, i) => {
    validateField(run, i, 'params', 'count');
    validateField(run, i, 'tokens', 'count');
    validateField(run, i, 'loss', 'loss');
  });
}

export function validateDistillationRuns(runs: readonly DistillationRun[]): void {
  runs.forEach((run, i) => {
    validateField(run, i, 'studentParams', 'count');
    validateField(run, i, 'studentTokens', 'count');
    validateField(run, i, 'studentLoss', 'loss');
    if (run.teacherLoss !== undefined) {
      validateField(run, i, 'teacherLoss', 'loss');
    } else {
      const row = run.row ?? i + 1;
      if (run.teacherParams === undefined || run.teacherTokens === undefined) {
        throw new DistilleryError(
          'E_BAD_INPUT',
          `row ${row}, column "teacherLoss" is missing, and so is teacherParams or teacherTokens to compute it from`,
          {
            row,
            column: 'teacherLoss',
            expected: 'teacherLoss, or teacherParams and teacherTokens',
          },
        );
      }
      validateField(run, i, 'teacherParams', 'count');
      validateField(run, i, 'teacherTokens', 'count');
    }
  });
}
