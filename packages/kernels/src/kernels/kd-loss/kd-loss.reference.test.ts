import { describe, expect, it } from 'vitest';
import { expectClose, expectScalarClose, makeLabels, makeLogits, makeTopk } from '../../../test/helpers.js';
import { finiteDifferenceGradient, kdLossReference, type KdLossReferenceInputs } from './kd-loss.reference.js';

/** Checks the reference's analytic gradient against central differences of its own total. */
function checkGradient(inputs: KdLossReferenceInputs, tolerance = 1e-6): void {
  const analytic = kdLossReference(inputs).gradLogits;
  const numeric = finiteDifferenceGradient((z) => kdLossReference({ ...inputs, studentLogits: z }).total, inputs.studentLogits, 1e-6);
  const scale = Math.max(1e-3, ...Array.from(analytic, Math.abs));
  expectClose(numeric, analytic, { atol: tolerance * scale * 10, rtol: 1e-5, what: 'd total / d z' });
}

const rows = 3;
const V = 7;
const z = makeLogits(1, rows, V, { maskFraction: 0.1 });
const t = makeLogits(2, rows, V, { maskFraction: 0.1 });
const labels = makeLabels(3, rows, V, 3);
// Keep the labelled tokens finite so cross-entropy stays finite.
for (let r = 0; r < rows; r++) if (labels[r]! >= 0) z[r * V + labels[r]!] = 0.5;
const zFinite = makeLogits(16, rows, V);

describe('kdLossReference: finite-difference gradients', () => {
  for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
    for (const T of [0.5, 1, 2, 4, 20]) {
      it(`${divergence}, dense teacher, T=${T}, hard term, ignore-index row`, () => {
        // Forward KL is +inf where the student masks a token the teacher keeps, reverse KL the other way round.
        const teacher = divergence === 'reverse-kl' ? makeLogits(4, rows, V) : t;
        const student = divergence === 'forward-kl' ? zFinite : z;
        checkGradient({
          rows,
          vocab: V,
          studentLogits: student,
          teacher: { kind: 'dense', logits: teacher },
          labels,
          divergence,
          temperature: T,
          softWeight: 0.7,
          hardWeight: 0.3,
          beta: 0.3,
        });
      });
    }
  }

  for (const beta of [1e-6, 0.5, 1 - 1e-6]) {
    for (const jsdNormalized of [false, true]) {
      it(`jsd β=${beta}${jsdNormalized ? ' normalised' : ''}`, () => {
        checkGradient({
          rows,
          vocab: V,
          studentLogits: z,
          teacher: { kind: 'dense', logits: t },
          divergence: 'jsd',
          beta,
          jsdNormalized,
          temperature: 2,
          softWeight: 1,
          hardWeight: 0,
        });
      });
    }
  }

  for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
    for (const tail of ['ignore', 'bucket'] as const) {
      if (divergence === 'reverse-kl' && tail === 'ignore') continue;
      for (const k of [1, 3]) {
        it(`top-k k=${k} ${divergence} tail=${tail}`, () => {
          const teacher = makeLogits(5, rows, V);
          const top = makeTopk(teacher, rows, V, k);
          const student = makeLogits(6, rows, V);
          checkGradient({
            rows,
            vocab: V,
            studentLogits: student,
            teacher: { kind: 'topk', k, indices: top.indices, logprobs: top.logprobs },
            divergence,
            tail,
            temperature: 2,
            softWeight: 1,
            hardWeight: 0,
            beta: 0.4,
          });
        });
      }
    }
  }

  it('vocabulary mismatch: truncate and mask', () => {
    const big = makeLogits(7, rows, V + 2);
    for (const vocabMismatch of ['truncate', 'mask'] as const) {
      checkGradient({
        rows,
        vocab: V,
        studentLogits: makeLogits(8, rows, V),
        teacher: { kind: 'dense', logits: big, vocab: V + 2 },
        vocabMismatch,
        divergence: 'jsd',
        temperature: 1.5,
        softWeight: 1,
        hardWeight: 0,
      });
    }
  });

  it('per-row weights (zeros included), with and without a normaliser, every divergence and both top-k tails', () => {
    const w = Float64Array.from([0.7, 0, 2.5]);
    const teacher = makeLogits(4, rows, V);
    const top = makeTopk(makeLogits(5, rows, V), rows, V, 3);
    for (const normalizer of [undefined, 17]) {
      for (const divergence of ['forward-kl', 'reverse-kl', 'jsd'] as const) {
        checkGradient({
          rows,
          vocab: V,
          studentLogits: zFinite,
          teacher: { kind: 'dense', logits: teacher },
          labels,
          rowWeights: w,
          normalizer,
          divergence,
          temperature: 2,
          softWeight: 0.7,
          hardWeight: 0.3,
          beta: 0.3,
        });
        for (const tail of ['ignore', 'bucket'] as const) {
          if (divergence === 'reverse-kl' && tail === 'ignore') continue;
          checkGradient({
            rows,
            vocab: V,
            studentLogits: zFinite,
            teacher: { kind: 'topk', k: 3, indices: top.indices, logprobs: top.logprobs },
            labels,
            rowWeights: w,
            normalizer,
            divergence,
            tail,
            temperature: 2,
            softWeight: 1,
            hardWeight: 0.5,
          });
        }
      }
      checkGradient({ rows, vocab: V, studentLogits: zFinite, labels, rowWeights: w, normalizer, softWeight: 0, hardWeight: 1 });
    }
  });

  it('without T², with a caller normaliser', () => {
    checkGradient({
      rows,
      vocab: V,
      studentLogits: zFinite,
      teacher: { kind: 'dense', logits: t },
      labels,
      temperature: 3,
      softWeight: 1,
      hardWeight: 1,
      scaleByTemperatureSquared: false,
      normalizer: 17,
    });
  });
});

describe('kdLossReference: values', () => {
  const two = (a: number, b: number) => Float64Array.from([Math.log(a), Math.log(b)]);

  it('forward and reverse KL of two-atom distributions', () => {
    const inputs = {
      rows: 1,
      vocab: 2,
      studentLogits: two(0.9, 0.1),
      teacher: { kind: 'dense' as const, logits: two(0.5, 0.5) },
      softWeight: 1,
      hardWeight: 0,
    };
    expectScalarClose(kdLossReference(inputs).total, 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1), 1e-14, 0, 'KL(p_T ‖ p_S)');
    expectScalarClose(
      kdLossReference({ ...inputs, divergence: 'reverse-kl' }).total,
      0.9 * Math.log(0.9 / 0.5) + 0.1 * Math.log(0.1 / 0.5),
      1e-14,
      0,
      'KL(p_S ‖ p_T)',
    );
  });

  it('JSD(0.5) is the symmetric Jensen–Shannon divergence', () => {
    const p = [0.5, 0.5];
    const q = [0.9, 0.1];
    const m = [0.7, 0.3];
    const want =
      0.5 * (p[0]! * Math.log(p[0]! / m[0]!) + p[1]! * Math.log(p[1]! / m[1]!)) +
      0.5 * (q[0]! * Math.log(q[0]! / m[0]!) + q[1]! * Math.log(q[1]! / m[1]!));
    const got = kdLossReference({
      rows: 1,
      vocab: 2,
      studentLogits: two(0.9, 0.1),
      teacher: { kind: 'dense', logits: two(0.5, 0.5) },
      divergence: 'jsd',
      beta: 0.5,
      softWeight: 1,
      hardWeight: 0,
    }).total;
    expectScalarClose(got, want, 1e-14, 0, 'JSD(0.5)');
  });

  it('JSD is exactly 0 at β ∈ {0, 1} and continuous: JSD(β)/β → forward KL, JSD(β)/(1 − β) → reverse KL', () => {
    const base = {
      rows,
      vocab: V,
      studentLogits: makeLogits(9, rows, V),
      teacher: { kind: 'dense' as const, logits: makeLogits(10, rows, V) },
      softWeight: 1,
      hardWeight: 0,
      temperature: 2,
    };
    const fwd = kdLossReference({ ...base, divergence: 'forward-kl' }).total;
    const rev = kdLossReference({ ...base, divergence: 'reverse-kl' }).total;
    const jsd = (beta: number, jsdNormalized = false) => kdLossReference({ ...base, divergence: 'jsd', beta, jsdNormalized });
    expect(jsd(0).total).toBe(0);
    expect(jsd(1).total).toBe(0);
    expect(Array.from(jsd(0).gradLogits).every((g) => g === 0)).toBe(true);
    expectScalarClose(jsd(1e-6).total / 1e-6, fwd, 1e-5, 0, 'JSD(1e-6)/1e-6');
    expectScalarClose(jsd(1 - 1e-6).total / 1e-6, rev, 1e-5, 0, 'JSD(1 − 1e-6)/1e-6');
    // Normalised: exactly forward / reverse KL at the ends, and continuous next to them.
    expectScalarClose(jsd(0, true).total, fwd, 1e-15, 0, 'normalised JSD(0)');
    expectScalarClose(jsd(1, true).total, rev, 1e-15, 0, 'normalised JSD(1)');
    expectScalarClose(jsd(1e-6, true).total, fwd, 1e-5, 0, 'normalised JSD(1e-6)');
    expectScalarClose(jsd(1 - 1e-6, true).total, rev, 1e-5, 0, 'normalised JSD(1 − 1e-6)');
    // The next term of the expansion is O(β) · χ²-like: 1e-6 · O(10) here.
    expectClose(jsd(1e-6, true).gradLogits, kdLossReference({ ...base, divergence: 'forward-kl' }).gradLogits, {
      atol: 1e-4,
      what: 'normalised JSD(1e-6) gradient vs forward KL',
    });
  });

  it('T² scales the soft term and its gradient', () => {
    const base = {
      rows,
      vocab: V,
      studentLogits: z,
      teacher: { kind: 'dense' as const, logits: t },
      softWeight: 1,
      hardWeight: 0,
      temperature: 4,
    };
    const a = kdLossReference(base);
    const b = kdLossReference({ ...base, scaleByTemperatureSquared: false });
    expectScalarClose(a.total, 16 * b.total, 1e-14, 0, 'T² · soft');
  });

  it('a caller normaliser makes gradient accumulation over micro-batches exact', () => {
    const R = 6;
    const zz = makeLogits(11, R, V);
    const tt = makeLogits(12, R, V);
    const ll = makeLabels(13, R, V, 4);
    const full = kdLossReference({
      rows: R,
      vocab: V,
      studentLogits: zz,
      teacher: { kind: 'dense', logits: tt },
      labels: ll,
      softWeight: 0.5,
      hardWeight: 0.5,
      temperature: 2,
    });
    const half = (from: number, to: number) =>
      kdLossReference({
        rows: to - from,
        vocab: V,
        studentLogits: zz.subarray(from * V, to * V),
        teacher: { kind: 'dense', logits: tt.subarray(from * V, to * V) },
        labels: ll.subarray(from, to),
        softWeight: 0.5,
        hardWeight: 0.5,
        temperature: 2,
        normalizer: full.normalizer,
      });
    const a = half(0, 2);
    const b = half(2, R);
    expectScalarClose(a.total + b.total, full.total, 1e-14, 0, 'Σ micro-batch totals');
    expectClose([...a.gradLogits, ...b.gradLogits], full.gradLogits, { atol: 1e-16, what: 'concatenated gradients' });
  });

  it("row weights scale each row's terms and gradient; N stays the count of active rows", () => {
    const R = 5;
    const base = {
      rows: R,
      vocab: V,
      studentLogits: makeLogits(20, R, V),
      teacher: { kind: 'dense' as const, logits: makeLogits(21, R, V) },
      labels: Int32Array.from([1, -100, 3, 4, 0]),
      softWeight: 0.6,
      hardWeight: 0.4,
      temperature: 2,
    };
    const w = [0.5, 9, 0, 2, 1.25];
    const plain = kdLossReference(base);
    const weighted = kdLossReference({ ...base, rowWeights: w });
    expect(weighted.rows).toBe(plain.rows);
    expect(weighted.normalizer).toBe(plain.normalizer);
    let sum = 0;
    for (let r = 0; r < R; r++) {
      const scale = r === 1 ? 0 : w[r]!;
      expectScalarClose(weighted.perRow.total[r]!, scale * plain.perRow.total[r]!, 1e-15, 0, `perRow.total[${r}]`);
      expectClose(
        weighted.gradLogits.subarray(r * V, (r + 1) * V),
        plain.gradLogits.subarray(r * V, (r + 1) * V).map((g) => scale * g),
        { rtol: 1e-15, what: `gradient row ${r}` },
      );
      sum += scale * plain.perRow.total[r]!;
    }
    expectScalarClose(weighted.total, sum / plain.normalizer, 1e-14, 0, 'total');
    expect(() => kdLossReference({ ...base, rowWeights: [1, 1, 1] })).toThrow(/rowWeights/);
    expect(() => kdLossReference({ ...base, rowWeights: [1, 1, -1, 1, 1] })).toThrow(/rowWeights\[2\]/);
    // An ignored row's weight is never read.
    expect(kdLossReference({ ...base, rowWeights: [0.5, Number.NaN, 0, 2, 1.25] }).total).toBe(weighted.total);
  });

  it('ignore-index rows are skipped entirely; a fully −inf row contributes 0 and no NaN', () => {
    const zz = makeLogits(14, 3, V, { emptyRows: [1] });
    const out = kdLossReference({
      rows: 3,
      vocab: V,
      studentLogits: zz,
      teacher: { kind: 'dense', logits: makeLogits(15, 3, V, { emptyRows: [2] }) },
      labels: Int32Array.from([1, 2, -100]),
      softWeight: 1,
      hardWeight: 1,
    });
    expect(out.rows).toBe(2);
    expect(out.perRow.total[1]).toBe(0);
    expect(out.perRow.total[2]).toBe(0);
    expect(Array.from(out.gradLogits).every(Number.isFinite)).toBe(true);
    expect(Array.from(out.gradLogits.subarray(V, 3 * V)).every((g) => g === 0)).toBe(true);
  });
});
