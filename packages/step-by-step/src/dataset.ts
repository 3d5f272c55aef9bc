import { badValue, Rng } from '@distillery/core';
import type { ParseFailureReason, ParseResult, StepByStepExample, TaskPreset } from './presets.js';

/** Task prefixes of Distilling step-by-step's multi-task training. */
export const PREDICT_PREFIX = 'predict: ';
export const EXPLAIN_PREFIX = 'explain: ';

/**
 * One training/evaluation row (also one line of the exported JSONL). A trainer builds two tasks from
 * it: `predict_input → label` (L_label) and `explain_input → rationale` (L_rationale).
 */
export interface StepByStepRecord {
  id: string;
  /** The task input, without prefix. */
  input: string;
  /** `"predict: " + input`. */
  predict_input: string;
  /** `"explain: " + input`. */
  explain_input: string;
  /** Target of the predict task: the teacher's label or the gold one (see `labels`). */
  label: string;
  /** Target of the explain task: the teacher's rationale ("" when the teacher's output was unusable, test rows only). */
  rationale: string;
  /** What the teacher answered, when its output parsed. */
  teacher_label: string | null;
  gold_label: string | null;
  /** teacher_label matches gold_label (null without gold or without a parsed teacher label). */
  teacher_correct: boolean | null;
}

/** A teacher output that did not make a training row, kept with its reason. */
export interface RejectedRecord {
  id: string;
  reason: ParseFailureReason | 'missing' | 'disagrees-with-gold';
  detail: string;
  /** The raw completion (empty when missing). */
  text: string;
}

export interface ParsedExample {
  example: StepByStepExample;
  /** The raw completion; undefined when the collection has none for this id. */
  text: string | undefined;
  parse: ParseResult | undefined;
  correct: boolean | null;
}

/** Parses each example's completion (looked up by id) with the preset's parser. */
export function parseCompletions(
  preset: TaskPreset,
  examples: readonly StepByStepExample[],
  completions: ReadonlyMap<string, string>,
): ParsedExample[] {
  return examples.map((example) => {
    const text = completions.get(example.id);
    if (text === undefined) return { example, text, parse: undefined, correct: null };
    const parse = preset.parse(text, example);
    const correct = parse.ok && example.label !== undefined ? preset.isCorrect(parse.label, example.label, example) : null;
    return { example, text, parse, correct };
  });
}

export interface BuildOptions {
  /** Predict-task target in train: `teacher` (default; the paper's LLM labels) or `gold` (falls back to teacher where gold is missing). Validation and test use gold when present. */
  labels?: 'teacher' | 'gold';
  /** Drop rows whose teacher label disagrees with the gold label, when there is one (default false). */
  dropDisagreeing?: boolean;
  /** Fraction of the examples held out for validation (default 0.1; 0 for none). */
  validationFraction?: number;
  /** Seed of the train/validation split (default 0). The split is over all examples, before filtering. */
  seed?: number;
}

export interface BuildStats {
  examples: number;
  train: number;
  validation: number;
  rejected: number;
  byReason: Record<string, number>;
}

export interface BuiltDataset {
  train: StepByStepRecord[];
  validation: StepByStepRecord[];
  rejected: RejectedRecord[];
  stats: BuildStats;
}

function record(p: ParsedExample, label: string): StepByStepRecord {
  const { example } = p;
  const parsed = p.parse?.ok ? p.parse : undefined;
  return {
    id: example.id,
    input: example.input,
    predict_input: PREDICT_PREFIX + example.input,
    explain_input: EXPLAIN_PREFIX + example.input,
    label,
    rationale: parsed?.rationale ?? '',
    teacher_label: parsed?.label ?? null,
    gold_label: example.label ?? null,
    teacher_correct: p.correct,
  };
}

/**
 * Builds the step-by-step training set from a split's parsed teacher outputs: rows whose output
 * did not parse (or, with `dropDisagreeing`, whose label contradicts gold) go to `rejected` with
 * their reason; the rest are split into train and validation with a seeded permutation.
 */
export function buildStepByStepDataset(parsed: readonly ParsedExample[], options: BuildOptions = {}): BuiltDataset {
  const fraction = options.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction < 1)) throw badValue('validationFraction', fraction, 'a number in [0, 1)');
  const order = new Rng(options.seed ?? 0).permutation(parsed.length);
  const validationCount = Math.round(parsed.length * fraction);
  const inValidation = new Uint8Array(parsed.length);
  for (let i = 0; i < validationCount; i++) inValidation[order[i]!] = 1;
  const train: StepByStepRecord[] = [];
  const validation: StepByStepRecord[] = [];
  const rejected: RejectedRecord[] = [];
  parsed.forEach((p, i) => {
    if (!p.parse) return rejected.push({ id: p.example.id, reason: 'missing', detail: 'no teacher output for this id', text: '' });
    if (!p.parse.ok) return rejected.push({ id: p.example.id, reason: p.parse.reason, detail: p.parse.detail, text: p.text ?? '' });
    if (options.dropDisagreeing && p.correct === false) {
      return rejected.push({
        id: p.example.id,
        reason: 'disagrees-with-gold',
        detail: `teacher ${JSON.stringify(p.parse.label)} vs gold ${JSON.stringify(p.example.label)}`,
        text: p.text ?? '',
      });
    }
    const gold = p.example.label;
    if (inValidation[i]) validation.push(record(p, gold ?? p.parse.label));
    else train.push(record(p, options.labels === 'gold' && gold !== undefined ? gold : p.parse.label));
  });
  const byReason: Record<string, number> = {};
  for (const r of rejected) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  return {
    train,
    validation,
    rejected,
    stats: { examples: parsed.length, train: train.length, validation: validation.length, rejected: rejected.length, byReason },
  };
}

/** Evaluation rows (a test split): every example is kept, labelled with gold (teacher label where gold is missing). */
export function buildEvaluationSet(parsed: readonly ParsedExample[]): StepByStepRecord[] {
  return parsed.map((p) => record(p, p.example.label ?? (p.parse?.ok ? p.parse.label : '')));
}

export interface TeacherAccuracy {
  examples: number;
  /** Examples with a gold label. */
  withGold: number;
  /** Outputs the parser accepted. */
  parsed: number;
  /** Parsed and equal to gold (per the preset's `isCorrect`). */
  correct: number;
  /** correct / withGold: an unparsable output counts as wrong. */
  accuracy: number;
  /** Parse failures by reason (missing outputs as `missing`). */
  failures: Record<string, number>;
  /** How often each parser workaround was needed. */
  notes: Record<string, number>;
}

/** The teacher's own accuracy: its parsed labels against gold. */
export function teacherAccuracy(parsed: readonly ParsedExample[]): TeacherAccuracy {
  const out: TeacherAccuracy = { examples: parsed.length, withGold: 0, parsed: 0, correct: 0, accuracy: 0, failures: {}, notes: {} };
  for (const p of parsed) {
    if (p.example.label !== undefined) out.withGold++;
    if (!p.parse) out.failures.missing = (out.failures.missing ?? 0) + 1;
    else if (!p.parse.ok) out.failures[p.parse.reason] = (out.failures[p.parse.reason] ?? 0) + 1;
    else {
      out.parsed++;
      for (const note of p.parse.notes) out.notes[note] = (out.notes[note] ?? 0) + 1;
    }
    if (p.correct) out.correct++;
  }
  out.accuracy = out.withGold ? out.correct / out.withGold : 0;
  return out;
}

/** The two training pairs of a row, for a seq2seq trainer. */
export function taskPairs(
  row: StepByStepRecord,
): [{ task: 'predict'; source: string; target: string }, { task: 'explain'; source: string; target: string }] {
  return [
    { task: 'predict', source: row.predict_input, target: row.label },
    { task: 'explain', source: row.explain_input, target: row.rationale },
  ];
}
