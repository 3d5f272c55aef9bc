import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import {
  badValue,
  DistilleryError,
  Rng,
  type BlackBoxTeacher,
  type ChatMessage,
  type Completion,
  type CompletionRequest,
  type HostTensor,
  type TokenLogprob,
  type TopKTargets,
  type WhiteBoxTeacher,
} from '@distillery/core';
// Types only: node-llama-cpp is ESM-only and loaded with import() inside `load`, so requiring this
// package (CJS) never loads it.
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, ChatHistoryItem } from 'node-llama-cpp';

export interface LlamaCppTeacherOptions {
  /** Path to a GGUF model file. */
  modelPath: string;
  /** Tokens per sequence (prompt + completion). Default 1024, capped at the model's training context. */
  contextSize?: number;
  /**
   * CPU threads, never more than the machine's cores. Default: 1 for models under 64 MiB (thread
   * hand-offs cost more than they save on a tiny model, and on a busy machine 2 threads can be 1000×
   * slower than 1), else min(4, cores).
   */
  threads?: number;
  /** Requests generated in parallel (one context sequence each; default 1). */
  sequences?: number;
  /** `false` (default): CPU only. `'auto'` lets node-llama-cpp pick CUDA, Vulkan or Metal. */
  gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal';
  /** Sampling seed used when a request sets a temperature > 0 but no seed. Default: random. */
  seed?: number;
  /** Teacher name in records and cache keys (default: the file name without .gguf). */
  name?: string;
  /**
   * Flash attention off and the KV cache in F32, so log-probabilities are the model's f32 ones.
   * llama.cpp's defaults (flash attention on the CPU, F16 KV cache) round keys and values to half
   * precision: about 1e-2 on a small model's log-probabilities. Default false.
   */
  exact?: boolean;
}

type NodeLlamaCpp = typeof import('node-llama-cpp');

let llamaModule: Promise<NodeLlamaCpp> | undefined;
const llamas = new Map<string, Promise<Llama>>();

/** One Llama runtime per GPU setting per process (loading the native binding is the slow part). */
function getRuntime(gpu: LlamaCppTeacherOptions['gpu']): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
  llamaModule ??= import('node-llama-cpp');
  return llamaModule.then(async (lib) => {
    const key = String(gpu ?? false);
    let llama = llamas.get(key);
    if (!llama) {
      llama = lib.getLlama({ gpu: gpu ?? false, build: 'never', logLevel: lib.LlamaLogLevel.error });
      llamas.set(key, llama);
      llama.catch(() => llamas.delete(key));
    }
    return { lib, llama: await llama };
  });
}

function aborted(): DistilleryError {
  return new DistilleryError('E_ABORTED', 'llama.cpp generation aborted', { field: 'signal' });
}

/** Draws from the T = 1 distribution `probs` re-tempered to `temperature`. */
function sampleTempered(probs: Map<number, number>, temperature: number, rng: Rng): number {
  let total = 0;
  const weights: [number, number][] = [];
  for (const [token, p] of probs) {
    if (p <= 0) continue;
    const w = Math.exp(Math.log(p) / temperature);
    weights.push([token, w]);
    total += w;
  }
  let u = rng.next() * total;
  for (const [token, w] of weights) {
    u -= w;
    if (u <= 0) return token;
  }
  return weights[weights.length - 1]![0];
}

/**
 * A local LLM teacher through node-llama-cpp (GGUF). As a black-box teacher it completes prompts and
 * chat messages (with the model's chat template, or llama.cpp's default when the GGUF has none) and
 * gives per-token log-probabilities with the top alternatives; `topK` gives white-box top-k targets
 * under teacher forcing. Log-probabilities are always the model's T = 1 distribution; a temperature
 * above 0 is applied when sampling (seeded, reproducible), not to the reported numbers.
 */
export class LlamaCppTeacher implements BlackBoxTeacher {
  readonly kind = 'black-box' as const;
  readonly name: string;
  readonly contextSize: number;
  readonly threads: number;
  readonly #lib: NodeLlamaCpp;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  readonly #free: LlamaContextSequence[];
  readonly #waiting: ((sequence: LlamaContextSequence) => void)[] = [];
  readonly #seed: number | undefined;
  #disposed = false;

  private constructor(lib: NodeLlamaCpp, model: LlamaModel, context: LlamaContext, options: LlamaCppTeacherOptions, threads: number) {
    this.#lib = lib;
    this.#model = model;
    this.#context = context;
    this.contextSize = context.contextSize;
    this.threads = threads;
    this.name = options.name ?? basename(options.modelPath).replace(/\.gguf$/i, '');
    this.#seed = options.seed;
    this.#free = Array.from({ length: options.sequences ?? 1 }, () => context.getSequence());
  }

  /** Loads the model and creates its context (about a second for a small model). */
  static async load(options: LlamaCppTeacherOptions): Promise<LlamaCppTeacher> {
    if (typeof options?.modelPath !== 'string' || options.modelPath === '')
      throw badValue('modelPath', options?.modelPath, 'a path to a .gguf file');
    const cores = availableParallelism();
    let size = 0;
    try {
      size = (await stat(options.modelPath)).size;
    } catch {
      throw new DistilleryError('E_NOT_FOUND', `no GGUF model at ${options.modelPath}`, { field: 'modelPath', value: options.modelPath });
    }
    const threads = Math.min(options.threads ?? (size < 64 << 20 ? 1 : Math.min(4, cores)), cores);
    if (!(Number.isInteger(threads) && threads >= 1)) throw badValue('threads', options.threads, `an integer in [1, ${cores}]`);
    const sequences = options.sequences ?? 1;
    if (!(Number.isInteger(sequences) && sequences >= 1 && sequences <= 64))
      throw badValue('sequences', sequences, 'an integer in [1, 64]');
    const { lib, llama } = await getRuntime(options.gpu);
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: options.modelPath });
    } catch (error) {
      throw new DistilleryError(
        'E_NOT_FOUND',
        `cannot load GGUF model ${options.modelPath}: ${(error as Error).message}`,
        { field: 'modelPath', value: options.modelPath },
        { cause: error },
      );
    }
    const trained = model.trainContextSize;
    const contextSize = Math.min(options.contextSize ?? 1024, trained > 0 ? trained : Number.MAX_SAFE_INTEGER);
    const context = await model.createContext({
      contextSize,
      threads,
      sequences,
      ...(options.exact
        ? { flashAttention: false, experimentalKvCacheKeyType: 'F32' as const, experimentalKvCacheValueType: 'F32' as const }
        : {}),
    });
    return new LlamaCppTeacher(lib, model, context, { ...options, sequences }, threads);
  }

  /** Number of token ids (the student must share this tokenizer to use `topK` targets). */
  get vocabSize(): number {
    return this.#model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? 0;
  }

  /** Token ids of `text`; with `bos` (default true) the model's BOS first when the model wants one. */
  tokenize(text: string, { bos = true }: { bos?: boolean } = {}): number[] {
    const ids = this.#model.tokenize(text) as number[];
    const first = this.#model.tokens.bos;
    return bos && first !== null && this.#model.tokens.shouldPrependBosToken ? [first, ...ids] : ids;
  }

  detokenize(ids: readonly number[]): string {
    return this.#model.detokenize(ids as never);
  }

  async #acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (this.#disposed) throw new DistilleryError('E_BAD_VALUE', `teacher ${this.name} is disposed`, { field: 'teacher' });
    const free = this.#free.pop();
    if (free) return free;
    return new Promise((resolve, reject) => {
      const take = (sequence: LlamaContextSequence) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(sequence);
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(take);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(aborted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(take);
    });
  }

  #release(sequence: LlamaContextSequence): void {
    const next = this.#waiting.shift();
    if (next) next(sequence);
    else this.#free.push(sequence);
  }

  /** Prompt tokens and extra stop strings (from the chat template) for a request. */
  #promptOf(request: CompletionRequest): { tokens: number[]; stop: string[] } {
    if ((request.prompt === undefined) === (request.messages === undefined))
      throw badValue('request', request.prompt === undefined ? 'neither' : 'both', 'exactly one of prompt, messages');
    if (request.prompt !== undefined) return { tokens: this.tokenize(request.prompt), stop: [] };
    const wrapper = this.#lib.resolveChatWrapper(this.#model) ?? new this.#lib.GeneralChatWrapper();
    const history: ChatHistoryItem[] = request.messages!.map((m: ChatMessage): ChatHistoryItem =>
      m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role, text: m.content },
    );
    history.push({ type: 'model', response: [] });
    const state = wrapper.generateContextState({ chatHistory: history });
    const stop = state.stopGenerationTriggers
      .map((trigger) => (trigger.values.every((v) => typeof v === 'string') ? trigger.values.join('') : ''))
      .filter((s) => s !== '');
    return { tokens: state.contextText.tokenize(this.#model.tokenizer) as number[], stop };
  }

  async complete(request: CompletionRequest, options: { signal?: AbortSignal } = {}): Promise<Completion> {
    const { signal } = options;
    if (signal?.aborted) throw aborted();
    const { tokens, stop: templateStop } = this.#promptOf(request);
    const room = this.contextSize - tokens.length;
    if (room < 1) throw badValue('request.prompt', `${tokens.length} tokens`, `at most ${this.contextSize - 1} tokens (the context size)`);
    const maxTokens = Math.min(request.maxTokens ?? 256, room);
    const temperature = request.temperature ?? 0;
    if (!(temperature >= 0)) throw badValue('request.temperature', temperature, 'a number >= 0');
    const top = request.topLogprobs;
    const stops = [...(request.stop ?? []), ...templateStop].filter((s) => s !== '');
    const rng = new Rng(request.seed ?? this.#seed ?? Math.floor(Math.random() * 2 ** 32));
    const wantProbs = top !== undefined || temperature > 0;

    const sequence = await this.#acquire(signal);
    const generated: number[] = [];
    const logprobs: TokenLogprob[] = [];
    let text = '';
    let finishReason: Completion['finishReason'] = 'length';
    try {
      // Reuse the cached prefix (few-shot prompts share theirs); re-evaluate at least one token.
      let keep = Math.min(sequence.compareContextTokens(tokens as never).firstDifferentIndex, tokens.length - 1);
      try {
        if (keep < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
      } catch {
        // Models whose state cannot be cut (recurrent, some SWA setups): start over.
        await sequence.clearHistory();
        keep = 0;
      }
      const iterator = sequence.evaluateWithMetadata(
        tokens.slice(keep) as never,
        { probabilities: wantProbs },
        { temperature: 0, yieldEogToken: true },
      );
      let step = await iterator.next();
      try {
        while (!step.done) {
          if (signal?.aborted) throw aborted();
          const output = step.value as { token: number; probabilities?: Map<number, number> };
          const probs = output.probabilities;
          const token = temperature > 0 && probs ? sampleTempered(probs, temperature, rng) : output.token;
          if (this.#model.isEogToken(token as never)) {
            finishReason = 'stop';
            break;
          }
          const context = [...tokens, ...generated].slice(-16);
          const piece = this.#model.detokenize([token] as never, false, context as never);
          generated.push(token);
          if (top !== undefined && probs) {
            const alternatives: { token: string; logprob: number }[] = [];
            for (const [id, p] of probs) {
              if (alternatives.length >= top || p <= 0) break;
              alternatives.push({ token: this.#model.detokenize([id] as never, false, context as never), logprob: Math.log(p) });
            }
            logprobs.push({ token: piece, logprob: Math.log(probs.get(token) ?? Number.MIN_VALUE), top: alternatives });
          }
          text += piece;
          const hit = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
          if (hit.length > 0) {
            text = text.slice(0, Math.min(...hit));
            finishReason = 'stop';
            break;
          }
          if (generated.length >= maxTokens) break;
          step = await iterator.next(token as never);
        }
      } finally {
        await iterator.return(undefined);
      }
    } finally {
      this.#release(sequence);
    }
    const completion: Completion = { text, finishReason, usage: { promptTokens: tokens.length, completionTokens: generated.length } };
    if (top !== undefined) {
      // Keep the tokens that made it into the text (a stop string may have cut the last ones).
      let length = 0;
      completion.tokens = logprobs.filter((t) => {
        const fits = length < text.length;
        length += t.token.length;
        return fits;
      });
    }
    return completion;
  }

  /**
   * White-box targets under teacher forcing: for each sequence of token ids, the model's next-token
   * distribution after every prefix. Row r of the result (sequences concatenated) predicts the token
   * after position r of its sequence. `logprobs` are at T = 1 over the full vocabulary.
   */
  async topK(
    sequences: readonly (readonly number[])[],
    k: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<TopKTargets<HostTensor>> {
    if (!(Number.isInteger(k) && k >= 1)) throw badValue('k', k, 'an integer >= 1');
    const rows = sequences.reduce((n, s) => n + s.length, 0);
    const indices = new Int32Array(rows * k);
    const logprobs = new Float32Array(rows * k).fill(-1e9);
    const tailMass = new Float32Array(rows);
    let row = 0;
    for (const [b, ids] of sequences.entries()) {
      if (ids.length === 0) continue;
      if (ids.length > this.contextSize)
        throw badValue(`sequences[${b}]`, `${ids.length} tokens`, `at most ${this.contextSize} tokens (the context size)`);
      const sequence = await this.#acquire(options.signal);
      try {
        await sequence.clearHistory();
        const results = await sequence.controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true } }]) as never);
        for (let t = 0; t < ids.length; t++, row++) {
          const probs = results[t]?.next?.probabilities;
          if (!probs)
            throw new DistilleryError('E_BAD_VALUE', `llama.cpp returned no distribution for sequences[${b}][${t}]`, {
              field: `sequences[${b}]`,
            });
          let j = 0;
          let mass = 0;
          for (const [id, p] of probs) {
            if (j >= k) break;
            indices[row * k + j] = id;
            logprobs[row * k + j] = p > 0 ? Math.log(p) : -1e9;
            mass += p;
            j++;
          }
          tailMass[row] = Math.max(0, 1 - mass);
        }
      } finally {
        this.#release(sequence);
      }
    }
    return {
      kind: 'topk',
      k,
      indices: { shape: [rows, k], dtype: 'i32', data: indices },
      logprobs: { shape: [rows, k], dtype: 'f32', data: logprobs },
      tailMass: { shape: [rows], dtype: 'f32', data: tailMass },
    };
  }

  /** Frees the context and the model. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#context.dispose();
    await this.#model.dispose();
  }
}

/** A batch for the white-box teacher: token ids per sequence, in the teacher's (and student's) vocabulary. */
export interface TokenBatch {
  inputIds: readonly (readonly number[])[];
}

/** `LlamaCppTeacher.topK` as a `WhiteBoxTeacher` for the Distiller loop (student shares the tokenizer). */
export class LlamaCppTopKTeacher implements WhiteBoxTeacher<TokenBatch, HostTensor> {
  readonly kind = 'white-box' as const;
  readonly name: string;
  readonly vocabSize: number;

  constructor(
    readonly teacher: LlamaCppTeacher,
    readonly k: number,
  ) {
    if (!(Number.isInteger(k) && k >= 1)) throw badValue('k', k, 'an integer >= 1');
    this.name = `${teacher.name}:top${k}`;
    this.vocabSize = teacher.vocabSize;
  }

  targets(batch: TokenBatch): Promise<TopKTargets<HostTensor>> {
    return this.teacher.topK(batch.inputIds, this.k);
  }

  dispose(): Promise<void> {
    return this.teacher.dispose();
  }
}
