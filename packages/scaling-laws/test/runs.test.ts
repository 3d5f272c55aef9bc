import { isDistilleryError } from '@distillery/core';
import { describe, expect, it } from 'vitest';
import {
  fitDistillation,
  fitSupervised,
  parseCsv,
  parseQuantity,
  readDistillationRuns,
  readSupervisedRuns,
  BUSBRIDGE_SUPERVISED,
  formatQuantity,
} from '../src/index.js';

/** Runs `fn`, expects a DistilleryError with `code`, and returns it for further checks. */
function caught(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (error) {
    expect(isDistilleryError(error)).toBe(true);
    const e = error as { code: string; message: string; details: Record<string, unknown> };
    expect(e.code).toBe(code);
    return e;
  }
  throw new Error('expected an error');
}

const HEADER = 'model,N,D,final_loss';

describe('quantities', () => {
  it('reads the units people write', () => {
    expect(parseQuantity('7B')).toBe(7e9);
    expect(parseQuantity('1.5e12')).toBe(1.5e12);
    expect(parseQuantity('300M')).toBe(3e8);
    expect(parseQuantity('1.2T')).toBe(1.2e12);
    expect(parseQuantity('125k')).toBe(125e3);
    expect(parseQuantity('7 b')).toBe(7e9);
    expect(parseQuantity('1,000,000')).toBe(1e6);
    expect(parseQuantity('1_000_000')).toBe(1e6);
    expect(parseQuantity(4e9)).toBe(4e9);
    expect(parseQuantity('seven')).toBeNaN();
    expect(parseQuantity('7X')).toBeNaN();
    expect(formatQuantity(7e9)).toBe('7B');
    expect(formatQuantity(1.5e12)).toBe('1.5T');
    expect(formatQuantity(1e17)).toBe('1e17');
  });

  it('parses quoted CSV with comments, CRLF and embedded commas', () => {
    const table = parseCsv('# synthetic\r\nname,N\r\n"a, b",7B\r\n\r\n"say ""hi""",1e9\r\n');
    expect(table.header).toEqual(['name', 'N']);
    expect(table.rows.map((r) => r.cells)).toEqual([
      ['a, b', '7B'],
      ['say "hi"', '1e9'],
    ]);
    expect(table.rows[0]!.line).toBe(3);
  });
});

describe('reading runs', () => {
  it('reads CSV with user-named columns and units', () => {
    const runs = readSupervisedRuns(`${HEADER}\nsmall,125M,2.5B,3.1\nbig,1.3e9,26e9,2.4\n`, {
      columns: { params: 'N', tokens: 'D', loss: 'final_loss' },
    });
    expect(runs).toEqual([
      { params: 1.25e8, tokens: 2.5e9, loss: 3.1, row: 1 },
      { params: 1.3e9, tokens: 2.6e10, loss: 2.4, row: 2 },
    ]);
  });

  it('recognises common column names without a mapping, and JSON', () => {
    const csv = readSupervisedRuns('params,tokens,loss\n1e8,2e9,3\n');
    expect(csv[0]).toMatchObject({ params: 1e8, tokens: 2e9, loss: 3 });
    const json = readSupervisedRuns(JSON.stringify({ runs: [{ N: '7B', D: '1.4T', loss: 1.9 }] }));
    expect(json[0]).toMatchObject({ params: 7e9, tokens: 1.4e12, loss: 1.9 });
    const lines = readSupervisedRuns('{"N": 1e8, "D": 2e9, "L": 3}\n{"N": 2e8, "D": 4e9, "L": 2.8}\n');
    expect(lines).toHaveLength(2);
  });

  it.each([
    ['negative parameters', 'a,-1e8,2e9,3.0', 'N'],
    ['zero tokens', 'a,1e8,0,3.0', 'D'],
    ['zero loss', 'a,1e8,2e9,0', 'final_loss'],
    ['negative loss', 'a,1e8,2e9,-2.5', 'final_loss'],
    ['NaN loss', 'a,1e8,2e9,NaN', 'final_loss'],
    ['text in N', 'a,lots,2e9,3.0', 'N'],
    ['an empty cell', 'a,1e8,,3.0', 'D'],
  ])('rejects %s naming row and column', (_what, line, column) => {
    const text = `${HEADER}\nok,1e8,2e9,3.0\n${line}\n`;
    const error = caught(() => readSupervisedRuns(text, { columns: { params: 'N', tokens: 'D', loss: 'final_loss' } }), 'E_BAD_INPUT');
    expect(error.message).toContain('row 2 (line 3)');
    expect(error.message).toContain(`column "${column}"`);
    expect(error.details).toMatchObject({ row: 2, column });
  });

  it('names a missing column and lists the ones present', () => {
    const error = caught(
      () => readSupervisedRuns(`${HEADER}\na,1e8,2e9,3\n`, { columns: { params: 'N', tokens: 'D', loss: 'val_loss' } }),
      'E_BAD_INPUT',
    );
    expect(error.message).toContain('column "val_loss"');
    expect(error.message).toContain('"final_loss"');
    const unnamed = caught(() => readSupervisedRuns('a,b\n1,2\n'), 'E_BAD_INPUT');
    expect(unnamed.message).toContain('no column for params');
  });

  it('rejects bad runs given as objects, naming row and field', () => {
    const error = caught(
      () =>
        fitSupervised([
          { params: 1e8, tokens: 2e9, loss: 3 },
          { params: 2e8, tokens: Number.NaN, loss: 2.9 },
        ]),
      'E_BAD_INPUT',
    );
    expect(error.message).toContain('row 2');
    expect(error.message).toContain('column "tokens"');
  });

  it('refuses fewer runs than parameters', () => {
    const runs = Array.from({ length: 5 }, (_, i) => ({ params: 1e8 * (i + 1), tokens: 2e9 * (i + 1), loss: 3 - 0.1 * i }));
    const error = caught(() => fitSupervised(runs, { form: 'busbridge' }), 'E_BAD_INPUT');
    expect(error.message).toMatch(/5 supervised runs cannot determine 6 parameters/);
    const distillation = runs.map((r) => ({ studentParams: r.params, studentTokens: r.tokens, studentLoss: r.loss, teacherLoss: 2 }));
    expect(caught(() => fitDistillation(distillation, BUSBRIDGE_SUPERVISED), 'E_BAD_INPUT').message).toMatch(
      /cannot determine 9 parameters/,
    );
  });

  it('reads distillation runs with teacher loss, or teacher size and tokens', () => {
    const withLoss = readDistillationRuns('student_params,student_tokens,teacher_loss,student_loss\n1B,20B,2.3,2.36\n');
    expect(withLoss[0]).toEqual({ studentParams: 1e9, studentTokens: 2e10, teacherLoss: 2.3, studentLoss: 2.36, row: 1 });
    const withTeacher = readDistillationRuns('N_S,D_S,N_T,D_T,L_S\n1B,20B,7B,140B,2.36\n');
    expect(withTeacher[0]).toEqual({
      studentParams: 1e9,
      studentTokens: 2e10,
      teacherParams: 7e9,
      teacherTokens: 1.4e11,
      studentLoss: 2.36,
      row: 1,
    });
    const missing = caught(() => readDistillationRuns('N_S,D_S,L_S\n1B,20B,2.36\n'), 'E_BAD_INPUT');
    expect(missing.message).toContain('no teacher column');
    const bad = caught(() => readDistillationRuns('N_S,D_S,L_T,L_S\n1B,20B,2.3,2.36\n1B,20B,-2,2.3\n'), 'E_BAD_INPUT');
    expect(bad.message).toContain('row 2 (line 3), column "L_T"');
  });
});
