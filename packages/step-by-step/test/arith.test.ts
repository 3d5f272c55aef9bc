import { describe, expect, it } from 'vitest';
import { evaluateArithmetic } from '../src/index.js';
import { sameNumber } from '../src/arith.js';

const value = (text: string) => {
  const r = evaluateArithmetic(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe('safe arithmetic evaluator', () => {
  it('follows precedence, associativity, parentheses and unary signs', () => {
    expect(value('( 84.0 / 2.0 )')).toBe(42);
    expect(value('( ( 17.0 + 15.0 ) + 2.0 )')).toBe(34);
    expect(value('2 + 3 * 4')).toBe(14);
    expect(value('(2 + 3) * 4')).toBe(20);
    expect(value('100 / 10 / 2')).toBe(5);
    expect(value('10 - 4 - 3')).toBe(3);
    expect(value('-3 + +5')).toBe(2);
    expect(value('-(2 - 5)')).toBe(3);
    expect(value('7 × 6 ÷ 3')).toBe(14);
    expect(value('1,000 + .5')).toBe(1000.5);
  });

  it('rejects anything that is not arithmetic, without evaluating it', () => {
    for (const hostile of [
      'process.exit(1)',
      'constructor',
      '2 * x',
      'some - 8',
      '(1',
      '1)',
      '',
      '2 ** 3',
      'alert`1`',
      '1; 2',
      '0x10',
      '1e3',
      '3 x 4',
    ]) {
      const r = evaluateArithmetic(hostile);
      expect(r.ok, hostile).toBe(false);
    }
    expect(evaluateArithmetic('4 / (2 - 2)')).toMatchObject({ ok: false, error: 'division by zero' });
    expect(evaluateArithmetic('('.repeat(100) + '1' + ')'.repeat(100))).toMatchObject({ ok: false });
    expect(evaluateArithmetic('1+'.repeat(2000) + '1')).toMatchObject({ ok: false });
    expect(evaluateArithmetic('-'.repeat(1000) + '1')).toMatchObject({ ok: false });
  });

  it('compares numbers up to floating-point rounding', () => {
    expect(sameNumber(value('(10 + 20) / 3'), value('10 / 3 + 20 / 3'))).toBe(true);
    expect(sameNumber(0.1 + 0.2, 0.3)).toBe(true);
    expect(sameNumber(1, 1.001)).toBe(false);
  });
});
