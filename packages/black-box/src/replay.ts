import { DistilleryError, type BlackBoxTeacher, type Completion, type CompletionRequest } from '@distillery/core';
import { TeacherRequestError } from './errors.js';
import { inputKey } from './hash.js';

/** A recorded answer: the input it answered (a prompt or chat messages) and the completion. */
export interface ReplayEntry {
  request: Pick<CompletionRequest, 'prompt' | 'messages'>;
  completion: Completion | string;
}

export interface ReplayTeacherOptions {
  name?: string;
  /** What to do on an input with no recording: `error` (default, a non-retryable failure) or a fixed answer. */
  onMissing?: 'error' | { text: string };
}

/**
 * A black-box teacher that answers from recorded completions, matched on the exact input (prompt or
 * messages; sampling parameters are ignored). It makes a pipeline run offline, deterministically,
 * on real teacher text — e.g. PaLM's outputs in the Distilling step-by-step release.
 */
export class ReplayTeacher implements BlackBoxTeacher {
  readonly kind = 'black-box' as const;
  readonly name: string;
  readonly #answers = new Map<string, Completion>();
  readonly #options: ReplayTeacherOptions;
  /** Requests answered so far. */
  calls = 0;

  constructor(entries: Iterable<ReplayEntry>, options: ReplayTeacherOptions = {}) {
    this.name = options.name ?? 'replay';
    this.#options = options;
    for (const entry of entries) this.add(entry);
  }

  get size(): number {
    return this.#answers.size;
  }

  add(entry: ReplayEntry): void {
    const completion = typeof entry.completion === 'string' ? { text: entry.completion, finishReason: 'stop' } : entry.completion;
    this.#answers.set(inputKey(entry.request), completion);
  }

  has(request: Pick<CompletionRequest, 'prompt' | 'messages'>): boolean {
    return this.#answers.has(inputKey(request));
  }

  async complete(request: CompletionRequest, options: { signal?: AbortSignal } = {}): Promise<Completion> {
    if (options.signal?.aborted) throw new DistilleryError('E_ABORTED', 'replay aborted', { field: 'signal' });
    this.calls++;
    const hit = this.#answers.get(inputKey(request));
    if (hit) return structuredClone(hit);
    if (this.#options.onMissing && this.#options.onMissing !== 'error') return { text: this.#options.onMissing.text, finishReason: 'stop' };
    const shown = request.prompt ?? request.messages?.at(-1)?.content ?? '';
    throw new TeacherRequestError({
      kind: 'rejected',
      message: `replay teacher ${this.name} has no recording for input ${JSON.stringify(shown.length > 80 ? `…${shown.slice(-77)}` : shown)}`,
      retryable: false,
    });
  }
}
