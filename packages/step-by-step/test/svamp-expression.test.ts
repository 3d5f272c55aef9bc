import { describe, expect, it } from 'vitest';
import { arithmetic, evaluateArithmetic, parseCompletions, teacherAccuracy } from '../src/index.js';
import { loadStepByStepWithOutputs } from '../src/node.js';
import { dataDir, haveData } from './helpers.js';

describe('SVAMP: the whole answer expression, not its first group', () => {
  it('takes every operand joined by operators', () => {
    const parse = (answer: string) => arithmetic.parse(`They had 5 boxes. The answer is ${answer}`);
    const cases: [string, string][] = [
      ['(5 * 6) + (5 * 7).', '(5 * 6) + (5 * 7)'],
      ['(16 * 17) * 4.', '(16 * 17) * 4'],
      ['5 * (6 + 7).', '5 * (6 + 7)'],
      ['((3 + 4) * 2) - (1 / 2) dollars.', '((3 + 4) * 2) - (1 / 2)'],
      ['(84 / 2).', '(84 / 2)'],
      ['42.', '42'],
      ['(8 action figures + 10 cabinets) * 4 shelves.', '(8 + 10) * 4'],
    ];
    for (const [answer, label] of cases) expect(parse(answer), answer).toMatchObject({ ok: true, label });
    expect(parse('(53 + 17) and (14 - 10).')).toMatchObject({ ok: false, reason: 'ambiguous' });
  });
});

/**
 * The rows of PaLM's recorded SVAMP outputs whose label changed when the parser stopped cutting the
 * expression after its first group (24 of 800 train rows, 12 of 200 test rows): each label is now
 * the teacher's whole expression, as written after "The answer is".
 */
const AFFECTED: [string, string][] = [
  ['svamp-train-5', '(16 * 17) * 4'],
  ['svamp-train-38', '(102 - 22) / 8'],
  ['svamp-train-42', '(31 * 6) / 19'],
  ['svamp-train-166', '(19 - 6) + (18 - 15)'],
  ['svamp-train-196', '(17 - 3) + (21 - 7)'],
  ['svamp-train-219', '(2 + 14) + 16'],
  ['svamp-train-278', '(17 - 7) - 8'],
  ['svamp-train-291', '((170 - 78) + 31) - 78'],
  ['svamp-train-337', '(3 * 8) + 9'],
  ['svamp-train-396', '(87 * 58) / 2'],
  ['svamp-train-420', '(67 * 66) / 6'],
  ['svamp-train-423', '(5 * 6) + (5 * 7)'],
  ['svamp-train-452', '(466 * 53) + (466 * 181)'],
  ['svamp-train-463', '(12 * 14) + 6'],
  ['svamp-train-466', '(74 * 51) - 71'],
  ['svamp-train-494', '(10 * 9) + (10 * 46)'],
  ['svamp-train-507', '(102 * 11) - 8'],
  ['svamp-train-593', '(55 / 15) * 60'],
  ['svamp-train-600', '(11 - 4) - (9 - 4)'],
  ['svamp-train-601', '(3 + 5) + 2'],
  ['svamp-train-636', '(95 * 118) + (11210 / 84)'],
  ['svamp-train-672', '(74 * 67) + (156 * 165)'],
  ['svamp-train-775', '(6 * 14) + 11'],
  ['svamp-train-788', '(237 - 19) - 231'],
  ['svamp-test-4', '(12 - 2) - 7'],
  ['svamp-test-15', '(126 - 115) - (48 - 81)'],
  ['svamp-test-22', '(28 * 24) / 16'],
  ['svamp-test-59', '(30 * 71) + (30 * 24)'],
  ['svamp-test-97', '(13 * 17) + 8'],
  ['svamp-test-116', '(18 - 12) + 8'],
  ['svamp-test-143', '(193 / 15) * 660'],
  ['svamp-test-144', '(544 * 10) * 32'],
  ['svamp-test-151', '(43 * 23) + 8'],
  ['svamp-test-158', '(78 * 19) * 38'],
  ['svamp-test-165', '(9 * 10) / 2'],
  ['svamp-test-186', '(7 * 10) - 2'],
];

describe.skipIf(!haveData)('SVAMP regression on the recorded outputs', () => {
  for (const split of ['train', 'test'] as const) {
    it(`${split}: the affected rows carry the whole expression, and the accuracy moved as documented`, async () => {
      const { examples, outputs } = await loadStepByStepWithOutputs(dataDir, 'svamp', split);
      const parsed = parseCompletions(arithmetic, examples, new Map(examples.map((e, i) => [e.id, outputs[i]!])));
      const byId = new Map(parsed.map((p) => [p.example.id, p]));
      const rows = AFFECTED.filter(([id]) => id.startsWith(`svamp-${split}-`));
      expect(rows).toHaveLength(split === 'train' ? 24 : 12);
      for (const [id, label] of rows) {
        const p = byId.get(id)!;
        expect(p.parse, id).toMatchObject({ ok: true, label });
        // The label is exactly what the teacher wrote after "The answer is", and it evaluates.
        const raw = outputs[examples.findIndex((e) => e.id === id)]!;
        expect(raw.slice(raw.indexOf('The answer is')).replace(/,(?=\d{3})/g, ''), id).toContain(`The answer is ${label}`);
        expect(evaluateArithmetic(label).ok, id).toBe(true);
      }
      const accuracy = teacherAccuracy(parsed);
      expect(accuracy.correct).toBe(split === 'train' ? 595 : 155);
    });
  }
});
