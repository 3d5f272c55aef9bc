import { badValue } from '@distillery/core';
import { CharTokenizer, type Tokenizer } from '@distillery/nn';
import { EXPLAIN_PREFIX, PREDICT_PREFIX, type StepByStepRecord } from '../dataset.js';

/**
 * Marks where the source ends and the target begins. A decoder-only student sees
 * `source ␂ target ␃` and learns only the target; control characters cannot occur in the
 * release's text, so they never collide with a real character.
 */
export const TARGET_START = '\u0002';
/** Ends a target: greedy decoding stops here. */
export const END_OF_TEXT = '\u0003';
/** Label value of positions that carry no loss (the source, padding). */
export const IGNORE_INDEX = -100;

export type StudentTask = 'predict' | 'explain';

/**
 * The student's character vocabulary: every character of the rows' inputs, labels and rationales,
 * the task prefixes and the two control characters. Characters first seen at test time map to
 * the unknown id.
 */
export function stepByStepTokenizer(rows: readonly StepByStepRecord[]): CharTokenizer {
  const parts = [PREDICT_PREFIX, EXPLAIN_PREFIX, TARGET_START, END_OF_TEXT];
  for (const r of rows) parts.push(r.input, r.label, r.rationale);
  return CharTokenizer.fromText(parts.join(''));
}

export interface EncodedSource {
  /** Prefix + (the tail of) the input + TARGET_START. */
  ids: number[];
  /** Characters of the input dropped from its front to fit. */
  droppedInput: number;
}

/**
 * `prefix + input + ␂` in at most `budget` tokens. A long input loses its front: the question
 * (SVAMP) and the answer choices (CQA) come last, so the tail carries what the label needs.
 */
export function encodeSource(tokenizer: Tokenizer, prefix: string, input: string, budget: number): EncodedSource {
  const head = Array.from(tokenizer.encode(prefix));
  const body = Array.from(tokenizer.encode(input));
  const start = tokenizer.encode(TARGET_START)[0]!;
  const room = budget - head.length - 1;
  if (room < 1)
    throw badValue('context', budget, `room for the prefix ${JSON.stringify(prefix)}, one input character and the target marker`);
  const kept = body.length > room ? body.slice(body.length - room) : body;
  return { ids: [...head, ...kept, start], droppedInput: body.length - kept.length };
}

export interface EncodedRow {
  /** `[context]` token ids, padded with END_OF_TEXT. */
  tokens: Int32Array;
  /** `[context]` next-token labels on the target's positions, IGNORE_INDEX elsewhere. */
  labels: Int32Array;
  /** Positions that carry a label (the target's characters and its end marker when kept). */
  targetTokens: number;
  droppedInput: number;
  /** Characters of the target cut from its end (0 when the whole target and its end marker fit). */
  droppedTarget: number;
}

/**
 * One training row of a task: the source, then the target and END_OF_TEXT, in `context` tokens.
 * When both do not fit, the target keeps at least a quarter of the context (a rationale is cut at
 * its end, keeping its opening reasoning) and the source's input loses its front.
 */
export function encodeTaskRow(tokenizer: Tokenizer, task: StudentTask, input: string, target: string, context: number): EncodedRow {
  const prefix = task === 'predict' ? PREDICT_PREFIX : EXPLAIN_PREFIX;
  const targetIds = [...Array.from(tokenizer.encode(target)), tokenizer.encode(END_OF_TEXT)[0]!];
  const prefixLength = tokenizer.encode(prefix).length;
  const fullSource = prefixLength + tokenizer.encode(input).length + 1;
  const targetRoom = Math.max(context - fullSource, Math.floor(context / 4));
  const keptTarget = targetIds.slice(0, Math.min(targetIds.length, targetRoom));
  const source = encodeSource(tokenizer, prefix, input, context - keptTarget.length);
  const tokens = new Int32Array(context).fill(tokenizer.encode(END_OF_TEXT)[0]!);
  const labels = new Int32Array(context).fill(IGNORE_INDEX);
  const sequence = [...source.ids, ...keptTarget];
  tokens.set(sequence);
  // Position p predicts token p + 1: the target's tokens are predicted from the marker onwards.
  for (let p = source.ids.length - 1; p < sequence.length - 1; p++) labels[p] = sequence[p + 1]!;
  return {
    tokens,
    labels,
    targetTokens: keptTarget.length,
    droppedInput: source.droppedInput,
    droppedTarget: targetIds.length - keptTarget.length,
  };
}

/** The two tasks of a record in Distilling step-by-step, or only `predict` for standard fine-tuning. */
export function recordTasks(row: StepByStepRecord, mode: 'standard' | 'step-by-step'): { task: StudentTask; target: string }[] {
  const tasks: { task: StudentTask; target: string }[] = [{ task: 'predict', target: row.label }];
  if (mode === 'step-by-step') tasks.push({ task: 'explain', target: row.rationale });
  return tasks;
}
