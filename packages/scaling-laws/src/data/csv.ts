import { DistilleryError } from '@distillery/core';

export interface CsvTable {
  header: string[];
  /** Data rows with the 1-based line each starts on (for error messages). */
  rows: { line: number; cells: string[] }[];
}

function detectDelimiter(firstLine: string): string {
  if (firstLine.includes(',')) return ',';
  if (firstLine.includes('\t')) return '\t';
  if (firstLine.includes(';')) return ';';
  return ',';
}

/**
 * RFC 4180 CSV: quoted fields may hold the delimiter, quotes ("") and newlines. Tabs or semicolons
 * are used when the header has no comma. Blank lines and lines starting with '#' (comments, e.g. a
 * "synthetic data" label) are skipped.
 */
export function parseCsv(text: string): CsvTable {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: { line: number; cells: string[] }[] = [];
  let delimiter: string | null = null;
  let line = 1;
  let position = 0;
  while (position < source.length) {
    const recordLine = line;
    // Skip comment and blank lines before any record.
    const lineEnd = source.indexOf('\n', position);
    const rawLine = source.slice(position, lineEnd === -1 ? source.length : lineEnd).replace(/\r$/, '');
    if (rawLine.trim() === '' || rawLine.trimStart().startsWith('#')) {
      position = lineEnd === -1 ? source.length : lineEnd + 1;
      line++;
      continue;
    }
    delimiter ??= detectDelimiter(rawLine);
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    let atCellStart = true;
    for (;;) {
      if (position >= source.length) {
        if (quoted) throw new DistilleryError('E_BAD_INPUT', `line ${recordLine}: a quoted field is never closed`, { line: recordLine });
        cells.push(cell);
        break;
      }
      const ch = source[position]!;
      if (quoted) {
        if (ch === '"') {
          if (source[position + 1] === '"') {
            cell += '"';
            position += 2;
            continue;
          }
          quoted = false;
          position++;
          continue;
        }
        if (ch === '\n') line++;
        cell += ch;
        position++;
        continue;
      }
      if (ch === '"' && atCellStart) {
        quoted = true;
        atCellStart = false;
        position++;
        continue;
      }
      if (ch === delimiter) {
        cells.push(cell);
        cell = '';
        atCellStart = true;
        position++;
        continue;
      }
      if (ch === '\n' || ch === '\r') {
        cells.push(cell);
        if (ch === '\r' && source[position + 1] === '\n') position++;
        position++;
        line++;
        break;
      }
      cell += ch;
      atCellStart = false;
      position++;
    }
    records.push({ line: recordLine, cells: cells.map((c) => c.trim()) });
  }
  const [header, ...rows] = records;
  if (!header) throw new DistilleryError('E_BAD_INPUT', 'the CSV has no header row', {});
  return { header: header.cells, rows };
}
