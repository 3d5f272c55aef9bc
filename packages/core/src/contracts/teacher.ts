import type { TensorLike } from './tensor.js';

/** A white-box teacher's answer for one batch: what the KD loss compares the student with. */
export type TeacherTargets<T extends TensorLike = TensorLike> = DenseTargets<T> | TopKTargets<T>;

/** What every kind of targets may carry besides the output distribution. */
export interface TargetsExtras<T extends TensorLike = TensorLike> {
  /**
   * Named teacher hidden states `[rows, width]` (only those asked for with `targets(batch,
   * { hidden })`). Read-only inputs of feature-matching losses: they get no gradient.
   */
  hidden?: Readonly<Record<string, T>>;
}

/** Raw logits `[rows, vocab]`, tempered by the loss, not by the teacher. */
export interface DenseTargets<T extends TensorLike = TensorLike> extends TargetsExtras<T> {
  kind: 'dense';
  logits: T;
}

/**
 * The k most likely tokens per row: `indices [rows, k]` (i32) and their log-probabilities over the
 * full vocabulary at T = 1 `logprobs [rows, k]` (f32). `tailMass [rows]`, when given, is the
 * probability not covered by the k entries (1 − Σ exp(logprobs)); losses may keep it as one bucket.
 */
export interface TopKTargets<T extends TensorLike = TensorLike> extends TargetsExtras<T> {
  kind: 'topk';
  k: number;
  indices: T;
  logprobs: T;
  tailMass?: T;
}

/** A teacher whose logits (and possibly hidden states) are visible. */
export interface WhiteBoxTeacher<TBatch = unknown, T extends TensorLike = TensorLike> {
  readonly kind: 'white-box';
  readonly name: string;
  /** Size of the teacher's output vocabulary (number of classes). */
  readonly vocabSize: number;
  /**
   * The targets of one batch. With `options.hidden`, the teacher also returns those named hidden
   * states in `targets.hidden` (a teacher that cannot must throw rather than omit them).
   */
  targets(batch: TBatch, options?: TargetsOptions): Promise<TeacherTargets<T>>;
  /** Names of the hidden states the teacher can return, in forward order, with their widths. */
  hiddenStateWidths?(): Readonly<Record<string, number>>;
}

export interface TargetsOptions {
  /** Hidden-state names to return with the targets (see `hiddenStateWidths`). */
  hidden?: readonly string[];
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  /** Plain-completion prompt, or chat messages; exactly one of the two. */
  prompt?: string;
  messages?: readonly ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  stop?: readonly string[];
  /** Ask for this many alternatives per generated token, when the teacher can give them. */
  topLogprobs?: number;
  seed?: number;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The most likely alternatives at this position (including the chosen token when the API includes it). */
  top: ReadonlyArray<{ token: string; logprob: number }>;
}

export interface Completion {
  text: string;
  finishReason?: 'stop' | 'length' | 'error' | string;
  tokens?: readonly TokenLogprob[];
  usage?: { promptTokens: number; completionTokens: number };
}

/** A teacher seen only through its text (an LLM behind an API). */
export interface BlackBoxTeacher {
  readonly kind: 'black-box';
  readonly name: string;
  complete(request: CompletionRequest, options?: { signal?: AbortSignal }): Promise<Completion>;
}

export type Teacher<TBatch = unknown, T extends TensorLike = TensorLike> = WhiteBoxTeacher<TBatch, T> | BlackBoxTeacher;
