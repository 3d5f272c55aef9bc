import { describe, expect, it } from 'vitest';
import { argmaxRow, crossEntropyRow, logSumExpRow } from '../src/logits.js';

describe('host arithmetic on read-back logits', () => {
  const logits = Float32Array.from([9, 1, 2, 3, /* row 1 */ 0.5, 4, 4, -1]);

  it('argmaxRow reads the row at its offset and keeps the first of tied maxima', () => {
    expect(argmaxRow(logits, 0, 4)).toBe(0);
    expect(argmaxRow(logits, 4, 4)).toBe(1);
  });

  it('logSumExpRow equals ln Σ exp(z) and stays finite for logits that overflow exp', () => {
    expect(logSumExpRow(logits, 4, 4)).toBeCloseTo(Math.log(Math.exp(0.5) + 2 * Math.exp(4) + Math.exp(-1)), 12);
    const huge = [1000, 1000];
    expect(logSumExpRow(huge, 0, 2)).toBeCloseTo(1000 + Math.LN2, 12);
  });

  it('crossEntropyRow is −ln softmax(z)_label', () => {
    const z = [0.5, 4, 4, -1];
    const p = Math.exp(z[3]!) / z.reduce((a, v) => a + Math.exp(v), 0);
    expect(crossEntropyRow(logits, 4, 4, 3)).toBeCloseTo(-Math.log(p), 12);
  });
});
