import { evaluateArithmetic, sameNumber } from './arith.js';

/** One task input. `input` is what the student sees (for CQA: the question and its answer choices). */
export interface StepByStepExample {
  id: string;
  input: string;
  /** Gold label, when known (CQA: the choice text; SVAMP: an equation; NLI: entailment/neutral/contradiction). */
  label?: string;
  /** Answer choices in (a), (b), … order, for multiple choice. */
  choices?: readonly string[];
  /** NLI inputs, when given separately. */
  premise?: string;
  hypothesis?: string;
}

/** A worked example for the few-shot prompt: input, the reasoning, and the answer. */
export interface Exemplar {
  input: string;
  rationale: string;
  label: string;
  choices?: readonly string[];
  premise?: string;
  hypothesis?: string;
}

export type ParseFailureReason =
  /** Nothing left once the text is cut at the next made-up question. */
  | 'empty'
  /** No "the answer is" (or "Answer:") phrase. */
  | 'no-answer-phrase'
  /** An answer phrase with nothing usable after it. */
  | 'no-label'
  /** Arithmetic: the answer is not an expression the safe evaluator accepts. */
  | 'bad-expression'
  /** Multiple choice: more than one choice named ("(a) x or (e) y"). */
  | 'ambiguous'
  /** Multiple choice: the answer names none of the choices. */
  | 'not-a-choice'
  /** NLI: the answer is not a known label. */
  | 'unknown-label'
  /** The answer phrase comes first: no reasoning to learn from. */
  | 'no-rationale';

export type ParseResult =
  | {
      ok: true;
      rationale: string;
      label: string;
      /** What the parser had to work around: `cut-at-next-question`, `label-from-letter`, `case-folded`… */
      notes: string[];
    }
  | { ok: false; reason: ParseFailureReason; detail: string; rationale?: string };

export type PresetName = 'multiple-choice' | 'arithmetic' | 'nli';

/** How one task is asked, answered and parsed (the formats of the paper's tasks). */
export interface TaskPreset {
  readonly name: PresetName;
  readonly description: string;
  /** The question block without the answer (ends with `A:`). */
  formatQuery(example: Omit<StepByStepExample, 'id'>): string;
  /** A full exemplar block: query, reasoning, answer phrase, label. */
  formatExemplar(exemplar: Exemplar): string;
  /** Stop sequences that end a completion before it invents the next question. */
  readonly stop: readonly string[];
  /** Splits a completion into rationale and label; `example` gives the choices, when there are any. */
  parse(text: string, example?: Pick<StepByStepExample, 'choices'>): ParseResult;
  /** Whether a predicted label counts as the gold one. */
  isCorrect(predicted: string, gold: string, example?: Pick<StepByStepExample, 'choices'>): boolean;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * Cuts `text` where the teacher starts a new made-up example: at a marker (`Q:`, `Premise:`) that
 * begins a line or follows the end of a sentence. Returns the kept text and whether it cut.
 */
export function cutAtNextExample(text: string, markers: readonly string[]): { text: string; cut: boolean } {
  let best = -1;
  for (const marker of markers) {
    let from = 0;
    while (true) {
      const at = text.indexOf(marker, from);
      if (at < 0) break;
      const before = text.slice(0, at).trimEnd();
      if (before === '' || text.slice(before.length, at).includes('\n') || /[.!?)\]"]$/.test(before)) {
        if (best < 0 || at < best) best = at;
        break;
      }
      from = at + marker.length;
    }
  }
  return best < 0 ? { text, cut: false } : { text: text.slice(0, best), cut: true };
}

const ANSWER_PHRASE = /(?:\bso,?\s+)?\bthe\s+(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be)\s*:?/gi;

/** Last "(so) the answer is" in `text`: where it starts and where the answer begins. */
function findAnswerPhrase(text: string): { start: number; end: number } | undefined {
  let found: { start: number; end: number } | undefined;
  for (const m of text.matchAll(ANSWER_PHRASE)) found = { start: m.index, end: m.index + m[0].length };
  return found;
}

function clean(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function splitRationale(
  raw: string,
  markers: readonly string[],
  extraPhrases: RegExp[] = [],
): { cutText: string; notes: string[]; phrase?: { start: number; end: number } } | ParseResult {
  const notes: string[] = [];
  const { text, cut } = cutAtNextExample(raw, markers);
  if (cut) notes.push('cut-at-next-question');
  const body = text.trim();
  if (body === '')
    return { ok: false, reason: 'empty', detail: cut ? 'the completion starts with a new question' : 'the completion is empty' };
  let phrase = findAnswerPhrase(body);
  for (const extra of extraPhrases) {
    if (phrase) break;
    let m: RegExpExecArray | null;
    let last: { start: number; end: number } | undefined;
    extra.lastIndex = 0;
    while ((m = extra.exec(body))) last = { start: m.index, end: m.index + m[0].length };
    phrase = last;
  }
  return { cutText: body, notes, phrase };
}

/** Multiple choice, the CommonsenseQA format: "… So the answer is (c) wooded area." */
export const multipleChoice: TaskPreset = {
  name: 'multiple-choice',
  description: 'Multiple choice (CommonsenseQA): "<reasoning> So the answer is (x) <choice>."',
  stop: ['\n\nQ:', '\nQ:'],
  formatQuery(example) {
    return `Q: ${withChoices(example.input, example.choices)}\nA:`;
  },
  formatExemplar(exemplar) {
    const index = exemplar.choices?.findIndex((c) => c === exemplar.label) ?? -1;
    const letter = index >= 0 ? `(${LETTERS[index]}) ` : '';
    return `${this.formatQuery(exemplar)} ${clean(exemplar.rationale)} So the answer is ${letter}${exemplar.label}.`;
  },
  parse(raw, example) {
    const split = splitRationale(raw, ['Q:']);
    if ('ok' in split) return split;
    const { cutText, notes, phrase } = split;
    if (!phrase) return { ok: false, reason: 'no-answer-phrase', detail: 'no "So the answer is"', rationale: cutText };
    const rationale = cutText.slice(0, phrase.start).trim();
    const rest = cutText.slice(phrase.end).trim();
    if (!rationale) return { ok: false, reason: 'no-rationale', detail: 'the answer comes before any reasoning' };
    const choices = example?.choices;
    const markers = [...rest.matchAll(/\(([a-z])\)/gi)].map((m) => ({
      letter: m[1]!.toLowerCase(),
      index: m.index,
      end: m.index + m[0].length,
    }));
    const letters = [...new Set(markers.map((m) => m.letter))];
    if (letters.length > 1)
      return { ok: false, reason: 'ambiguous', detail: `names ${letters.map((l) => `(${l})`).join(', ')}`, rationale };
    const first = markers[0];
    let text = first ? rest.slice(first.end) : rest;
    // The label runs to the end of its sentence or line; "or …" hedges were handled above.
    text = text.split('\n')[0]!.trim();
    text = text
      .replace(/^[:\-\s]+/, '')
      .replace(/[.。]+$/, '')
      .trim();
    if (!choices || choices.length === 0) {
      if (!text) return { ok: false, reason: 'no-label', detail: 'nothing after the choice marker', rationale };
      return { ok: true, rationale, label: text, notes };
    }
    const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
    const exact = choices.find((c) => c === text);
    if (exact !== undefined) return { ok: true, rationale, label: exact, notes };
    const folded = choices.find((c) => norm(c) === norm(text));
    if (folded !== undefined) return { ok: true, rationale, label: folded, notes: [...notes, 'case-folded'] };
    if (first) {
      const index = LETTERS.indexOf(first.letter);
      if (index < choices.length) return { ok: true, rationale, label: choices[index]!, notes: [...notes, 'label-from-letter'] };
    }
    return { ok: false, reason: 'not-a-choice', detail: `${JSON.stringify(text)} is none of the choices`, rationale };
  },
  isCorrect(predicted, gold) {
    return predicted.trim() === gold.trim();
  },
};

function withChoices(input: string, choices: readonly string[] | undefined): string {
  if (!choices || choices.length === 0 || /\nAnswer Choices:/.test(input)) return input;
  return `${input}\nAnswer Choices:\n${choices.map((c, i) => `(${LETTERS[i]}) ${c}`).join('\n')}`;
}

/** End (exclusive) of the balanced `( … )` opening at `open`, or -1 when it never closes on this line. */
function closingParen(line: string, open: number): number {
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    if (line[i] === '(') depth++;
    else if (line[i] === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

const NUMBER = /^\$?\d[\d,]*(?:\.\d+)?/;
const OPERATOR = /^\s*[-+*/×÷]\s*/;

/**
 * The expression in `rest`: from the first "(" or number, every operand (a balanced group or a
 * number) joined by operators — so "(5 * 6) + (5 * 7)" is taken whole, not cut after its first
 * group — else the text up to the sentence end.
 */
function extractExpression(rest: string): string | undefined {
  const line = rest.split('\n')[0]!;
  const start = line.search(/[($\d]/);
  if (start >= 0) {
    const operandEnd = (at: number): number => {
      if (line[at] === '(') return closingParen(line, at);
      const number = NUMBER.exec(line.slice(at));
      return number ? at + number[0].length : -1;
    };
    let end = operandEnd(start);
    if (end < 0) {
      // An unclosed group: up to the last ")" if any, else the rest of the line.
      const close = line.lastIndexOf(')');
      return close > start ? line.slice(start, close + 1) : line.slice(start);
    }
    for (;;) {
      const op = OPERATOR.exec(line.slice(end));
      if (!op) break;
      const next = operandEnd(end + op[0].length);
      if (next < 0) break;
      end = next;
    }
    return line.slice(start, end);
  }
  const sentence = /^(.*?)(?:\.\s|\.$|$)/.exec(line.trim())?.[1]?.trim();
  return sentence || undefined;
}

function normaliseExpression(expr: string): string {
  return expr.replace(/\$/g, '').replace(/(\d),(?=\d{3}\b)/g, '$1');
}

/** Arithmetic with an expression answer, the SVAMP format: "… The answer is (84 / 2)." */
export const arithmetic: TaskPreset = {
  name: 'arithmetic',
  description: 'Arithmetic word problems (SVAMP): "<reasoning> The answer is (<expression>)."',
  stop: ['\n\nQ:', '\nQ:'],
  formatQuery(example) {
    return `Q: ${example.input}\nA:`;
  },
  formatExemplar(exemplar) {
    const label = exemplar.label.trim();
    const wrapped = label.startsWith('(') && label.endsWith(')') ? label : `(${label})`;
    return `${this.formatQuery(exemplar)} ${clean(exemplar.rationale)} The answer is ${wrapped}.`;
  },
  parse(raw) {
    const split = splitRationale(raw, ['Q:']);
    if ('ok' in split) return split;
    const { cutText, notes, phrase } = split;
    if (!phrase) return { ok: false, reason: 'no-answer-phrase', detail: 'no "The answer is"', rationale: cutText };
    const rationale = cutText.slice(0, phrase.start).trim();
    if (!rationale) return { ok: false, reason: 'no-rationale', detail: 'the answer comes before any reasoning' };
    const rest = cutText.slice(phrase.end).trim();
    const found = extractExpression(rest);
    if (!found) return { ok: false, reason: 'no-label', detail: 'nothing after "The answer is"', rationale };
    const after = rest.slice(rest.indexOf(found) + found.length);
    if (/^\s*(?:and|or|,)\s*[(\d]/.test(after))
      return {
        ok: false,
        reason: 'ambiguous',
        detail: `${JSON.stringify(rest.split('\n')[0]!.slice(0, 80))} gives more than one answer`,
        rationale,
      };
    let expression = normaliseExpression(found);
    if (expression.includes('=')) {
      // "(84 / 2 = 42)": keep the side that is an expression, the left one first.
      const inner = expression.replace(/^\(|\)$/g, '');
      const sides = inner.split('=').map((s) => s.trim());
      const usable = sides.find((s) => s && evaluateArithmetic(s).ok);
      if (!usable) return { ok: false, reason: 'bad-expression', detail: `${JSON.stringify(found)} has no evaluable side`, rationale };
      expression = `(${usable})`;
      notes.push('dropped-equals');
    }
    if (/\band\b|\bor\b|,\s/.test(expression))
      return { ok: false, reason: 'ambiguous', detail: `${JSON.stringify(found)} gives more than one answer`, rationale };
    let value = evaluateArithmetic(expression);
    if (!value.ok) {
      // "(8 action figures + 10 cabinets) * 4 shelves": unit words right after numbers can go;
      // any other word (a variable, "some") still fails.
      const unitless = expression.replace(/(\d)((?:\s+[A-Za-z][A-Za-z'-]*)+)/g, '$1');
      const retry = unitless !== expression ? evaluateArithmetic(unitless) : value;
      if (!retry.ok) return { ok: false, reason: 'bad-expression', detail: `${JSON.stringify(found)}: ${value.error}`, rationale };
      value = retry;
      expression = unitless;
      notes.push('dropped-units');
    }
    return { ok: true, rationale, label: expression, notes };
  },
  isCorrect(predicted, gold) {
    const a = evaluateArithmetic(normaliseExpression(predicted));
    const b = evaluateArithmetic(normaliseExpression(gold));
    return a.ok && b.ok && sameNumber(a.value, b.value);
  },
};

export const NLI_LABELS = ['entailment', 'neutral', 'contradiction'] as const;

/** Maps the ways an NLI answer is phrased onto entailment / neutral / contradiction. */
export function normaliseNliLabel(text: string): (typeof NLI_LABELS)[number] | undefined {
  const t = text
    .toLowerCase()
    .replace(/["'“”.,!]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (
    /^(it is not possible to tell|not possible to tell|neutral|it is unclear|unclear|unknown|cannot be determined|can ?not tell|maybe)\b/.test(
      t,
    )
  )
    return 'neutral';
  if (/^(yes|entailment|entails|entailed|true)\b/.test(t)) return 'entailment';
  if (/^(no|contradiction|contradicts|contradictory|false)\b/.test(t)) return 'contradiction';
  return undefined;
}

/** Natural language inference (e-SNLI / ANLI): "… So the answer is contradiction." or "Answer: neutral". */
export const nli: TaskPreset = {
  name: 'nli',
  description: 'Natural language inference (e-SNLI, ANLI): "<reasoning> So the answer is <entailment|neutral|contradiction>."',
  stop: ['\n\nPremise:', '\nPremise:', '\nQ:'],
  formatQuery(example) {
    const body =
      example.premise !== undefined && example.hypothesis !== undefined
        ? `Premise: ${example.premise}\nHypothesis: ${example.hypothesis}`
        : example.input;
    return `${body}\nA:`;
  },
  formatExemplar(exemplar) {
    return `${this.formatQuery(exemplar)} ${clean(exemplar.rationale)} So the answer is ${exemplar.label}.`;
  },
  parse(raw) {
    const split = splitRationale(raw, ['Premise:', 'Q:'], [/\banswer\s*:/gi]);
    if ('ok' in split) return split;
    const { cutText, notes, phrase } = split;
    if (!phrase) return { ok: false, reason: 'no-answer-phrase', detail: 'no "So the answer is" or "Answer:"', rationale: cutText };
    const rationale = cutText.slice(0, phrase.start).trim();
    if (!rationale) return { ok: false, reason: 'no-rationale', detail: 'the answer comes before any reasoning' };
    const rest = cutText.slice(phrase.end).split('\n')[0]!.trim();
    if (!rest) return { ok: false, reason: 'no-label', detail: 'nothing after the answer phrase', rationale };
    const label = normaliseNliLabel(rest);
    if (!label)
      return {
        ok: false,
        reason: 'unknown-label',
        detail: `${JSON.stringify(rest.slice(0, 60))} is not entailment, neutral or contradiction`,
        rationale,
      };
    return { ok: true, rationale, label, notes };
  },
  isCorrect(predicted, gold) {
    return normaliseNliLabel(predicted) !== undefined && normaliseNliLabel(predicted) === normaliseNliLabel(gold);
  },
};

export const PRESETS: Readonly<Record<PresetName, TaskPreset>> = { 'multiple-choice': multipleChoice, arithmetic, nli };

/**
 * The parsers of the official release (`data_utils.py`), reimplemented for comparison: cut at the
 * first "Q:" anywhere, split on the answer phrase, regex the label; a failure gives the label " ".
 */
export function parseLikeReference(preset: 'multiple-choice' | 'arithmetic', output: string): { rationale: string; label: string } {
  const body = output.split('Q:')[0]!.trimEnd();
  if (preset === 'arithmetic') {
    const parts = body.split('The answer is');
    if (parts.length !== 2) return { rationale: ' ', label: ' ' };
    const match = /\(.*\)/.exec(parts[1]!);
    return { rationale: parts[0]!.trimEnd(), label: match ? match[0] : ' ' };
  }
  const parts = body.split('So the answer is');
  if (parts.length !== 2) return { rationale: ' ', label: ' ' };
  const pieces = parts[1]!.split(/\(.\)/);
  let label = ' ';
  if (pieces.length > 1) {
    label = pieces[1]!.trim();
    if (label.endsWith('.')) label = label.slice(0, -1);
    if (label === '') label = ' ';
  }
  return { rationale: parts[0]!.trimEnd(), label };
}
