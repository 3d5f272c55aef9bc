import { describe, expect, it } from 'vitest';
import {
  arithmetic,
  buildFewShotPrompt,
  multipleChoice,
  nli,
  parseCompletions,
  parseLikeReference,
  teacherAccuracy,
  type ParseResult,
} from '../src/index.js';
import { loadStepByStepWithOutputs } from '../src/node.js';
import { dataDir, haveData } from './helpers.js';
import { cutAtNextExample } from '../src/presets.js';

function ok(result: ParseResult): { rationale: string; label: string; notes: string[] } {
  if (!result.ok) throw new Error(`expected a parse, got ${result.reason}: ${result.detail}`);
  return result;
}

describe('arithmetic parser (SVAMP format)', () => {
  it('splits rationale and expression and cuts the invented next question', () => {
    const r = ok(
      arithmetic.parse(
        'Luke scored 84 points after 2 rounds. 84 / 2 = 42. The answer is (84 / 2).\n\nQ: There are 120 students. The answer is (120 / 3).',
      ),
    );
    expect(r).toEqual({
      ok: true,
      rationale: 'Luke scored 84 points after 2 rounds. 84 / 2 = 42.',
      label: '(84 / 2)',
      notes: ['cut-at-next-question'],
    });
  });

  it('handles the ways real outputs go wrong', () => {
    expect(ok(arithmetic.parse('3 + 4 = 7. The answer is 3 + 4.')).label).toBe('3 + 4');
    expect(ok(arithmetic.parse('So 84 / 2 = 42. The answer is (84 / 2 = 42).')).label).toBe('(84 / 2)');
    expect(ok(arithmetic.parse('Shelves. The answer is ((8 action figures + 10 cabinets) * 4 shelves).')).label).toBe('((8 + 10) * 4)');
    expect(ok(arithmetic.parse('Money. the answer is ($1,200 - $200) dollars, which is a lot')).label).toBe('(1200 - 200)');
    expect(arithmetic.parse('He had some - 8 dollars. The answer is (some - 8).')).toMatchObject({ ok: false, reason: 'bad-expression' });
    expect(arithmetic.parse('So 2 * x = 12. The answer is (2 * x).')).toMatchObject({ ok: false, reason: 'bad-expression' });
    expect(arithmetic.parse('Two numbers. The answer is (53 + 17) and (14 - 10).')).toMatchObject({ ok: false, reason: 'ambiguous' });
    expect(arithmetic.parse('Jake has 8 fewer peaches than Steven and runs out of tokens')).toMatchObject({
      ok: false,
      reason: 'no-answer-phrase',
    });
    expect(arithmetic.parse('Q: another question?\nA: 5')).toMatchObject({ ok: false, reason: 'empty' });
    expect(arithmetic.parse('The answer is (3 + 4).')).toMatchObject({ ok: false, reason: 'no-rationale' });
    expect(arithmetic.parse('Counting. The answer is .')).toMatchObject({ ok: false, reason: 'no-label' });
    // "Q:" inside a sentence is not a new question.
    expect(ok(arithmetic.parse('He asked Q: why? Then 2 + 2 = 4. The answer is (2 + 2).')).rationale).toBe(
      'He asked Q: why? Then 2 + 2 = 4.',
    );
  });

  it('never evaluates teacher text: a hostile "expression" is just a parse failure', () => {
    const r = arithmetic.parse('Sure. The answer is (process.mainModule.require("child_process").execSync("id")).');
    expect(r).toMatchObject({ ok: false, reason: 'bad-expression' });
  });

  it('counts an answer as correct when its value equals the gold equation value', () => {
    expect(arithmetic.isCorrect('(84 / 2)', '( 84.0 / 2.0 )')).toBe(true);
    expect(arithmetic.isCorrect('(10 + 20) / 3', '10 / 3 + 20 / 3')).toBe(true);
    expect(arithmetic.isCorrect('(84 - 2)', '( 84.0 / 2.0 )')).toBe(false);
    expect(arithmetic.isCorrect(' ', '( 84.0 / 2.0 )')).toBe(false);
  });
});

describe('multiple-choice parser (CQA format)', () => {
  const choices = ['park', 'coloring book', 'garden center', 'math problem', 'gravity'];

  it('reads the choice after "So the answer is (x)"', () => {
    const r = ok(
      multipleChoice.parse(
        ' The answer must relate to the problem. Of the above choices, only math problem does. So the answer is (d) math problem.\n\nQ: "The man..."\nAnswer Choices:\n(a) horse',
        { choices },
      ),
    );
    expect(r.rationale).toBe('The answer must relate to the problem. Of the above choices, only math problem does.');
    expect(r.label).toBe('math problem');
  });

  it('repairs case, maps a letter whose text is off, and flags hedges and non-choices', () => {
    expect(ok(multipleChoice.parse('Reason. So the answer is (d) Math Problem.', { choices }))).toMatchObject({
      label: 'math problem',
      notes: ['case-folded'],
    });
    expect(ok(multipleChoice.parse('Reason. So the answer is (c) gardens.', { choices }))).toMatchObject({
      label: 'garden center',
      notes: ['label-from-letter'],
    });
    expect(ok(multipleChoice.parse('Reason. So the answer is gravity.', { choices })).label).toBe('gravity');
    expect(multipleChoice.parse('Reason. So the answer is (a) park or (e) gravity.', { choices })).toMatchObject({
      ok: false,
      reason: 'ambiguous',
    });
    expect(multipleChoice.parse('Reason. So the answer is a spaceship.', { choices })).toMatchObject({ ok: false, reason: 'not-a-choice' });
    expect(multipleChoice.parse('Reason without a conclusion', { choices })).toMatchObject({
      ok: false,
      reason: 'no-answer-phrase',
      rationale: 'Reason without a conclusion',
    });
    // Without choices the text after the marker is the label.
    expect(ok(multipleChoice.parse('Reason. So the answer is (b) anything at all.')).label).toBe('anything at all');
  });
});

describe('NLI parser (e-SNLI / ANLI formats)', () => {
  it('maps the phrasings onto entailment, neutral and contradiction', () => {
    expect(ok(nli.parse('A man on a horse is outdoors. So the answer is yes.\n\nPremise: next')).label).toBe('entailment');
    expect(ok(nli.parse('We cannot know his age. So the answer is it is not possible to tell.')).label).toBe('neutral');
    expect(ok(nli.parse('One cannot sit and run at once.\nAnswer: contradiction\nPremise: A dog')).label).toBe('contradiction');
    expect(nli.parse('Hmm. So the answer is purple.')).toMatchObject({ ok: false, reason: 'unknown-label' });
    expect(nli.isCorrect('yes', 'entailment')).toBe(true);
  });

  it('builds NLI prompts from premise and hypothesis', () => {
    const prompt = buildFewShotPrompt(
      {
        preset: nli,
        exemplars: [
          { input: '', premise: 'A dog runs.', hypothesis: 'An animal moves.', rationale: 'A dog is an animal.', label: 'entailment' },
        ],
      },
      { input: '', premise: 'P', hypothesis: 'H' },
    );
    expect(prompt).toBe(
      'Premise: A dog runs.\nHypothesis: An animal moves.\nA: A dog is an animal. So the answer is entailment.\n\nPremise: P\nHypothesis: H\nA:',
    );
  });
});

describe('cutAtNextExample', () => {
  it('cuts at markers that start a line or follow a sentence, not mid-sentence', () => {
    expect(cutAtNextExample('a. b.\n\nQ: c', ['Q:'])).toEqual({ text: 'a. b.\n\n', cut: true });
    expect(cutAtNextExample('done. Q: next', ['Q:'])).toEqual({ text: 'done. ', cut: true });
    expect(cutAtNextExample('the Q: in text', ['Q:'])).toEqual({ text: 'the Q: in text', cut: false });
  });
});

describe.skipIf(!haveData)("parsers on PaLM's recorded outputs", () => {
  const cases = [
    { dataset: 'svamp', split: 'train', preset: arithmetic, reference: 588 / 800 - 2 / 800 },
    { dataset: 'svamp', split: 'test', preset: arithmetic, reference: 0.74 },
    { dataset: 'cqa', split: 'train', preset: multipleChoice, reference: 0.7426 },
    { dataset: 'cqa', split: 'test', preset: multipleChoice, reference: 0.7723 },
  ] as const;

  for (const c of cases) {
    it(`${c.dataset} ${c.split}: every output parses or gives its reason; accuracy ≥ the reference parser's`, async () => {
      const { examples, outputs } = await loadStepByStepWithOutputs(dataDir, c.dataset, c.split);
      const parsed = parseCompletions(c.preset, examples, new Map(examples.map((e, i) => [e.id, outputs[i]!])));
      for (const p of parsed) {
        expect(p.parse).toBeDefined();
        if (p.parse!.ok) {
          expect(p.parse!.label.length).toBeGreaterThan(0);
          expect(p.parse!.rationale.length).toBeGreaterThan(0);
          expect(p.parse!.rationale).not.toMatch(/\nQ:/);
        } else expect(p.parse!.detail.length).toBeGreaterThan(0);
      }
      // The official parser, reimplemented, reproduces the README's accuracy (SVAMP train: README's
      // 73.5 % counts two "(a) and (b)" answers that Python's eval turns into b; we count them wrong).
      let referenceCorrect = 0;
      examples.forEach((e, i) => {
        if (c.preset.isCorrect(parseLikeReference(c.preset.name as 'arithmetic' | 'multiple-choice', outputs[i]!).label, e.label!))
          referenceCorrect++;
      });
      expect(referenceCorrect / examples.length).toBeCloseTo(c.reference, 3);
      const accuracy = teacherAccuracy(parsed);
      expect(accuracy.withGold).toBe(examples.length);
      expect(accuracy.accuracy).toBeGreaterThanOrEqual(referenceCorrect / examples.length);
      const failures = Object.values(accuracy.failures).reduce((a, b) => a + b, 0);
      expect(accuracy.parsed + failures).toBe(examples.length);
    });
  }

  it("parses the README's examples exactly", async () => {
    const svamp = await loadStepByStepWithOutputs(dataDir, 'svamp', 'train');
    expect(ok(arithmetic.parse(svamp.outputs[0]!))).toMatchObject({
      rationale: 'Luke scored 84 points after 2 rounds. So he scored 84 points in 2 rounds. 84 / 2 = 42.',
      label: '(84 / 2)',
    });
    const cqa = await loadStepByStepWithOutputs(dataDir, 'cqa', 'train');
    const first = ok(multipleChoice.parse(cqa.outputs[0]!, cqa.examples[0]));
    expect(first.label).toBe('math problem');
    expect(first.rationale).toBe(
      'The answer must be something that has to do with the above problem. Of the above choices, only math problem has to do with the above problem.',
    );
  });
});
