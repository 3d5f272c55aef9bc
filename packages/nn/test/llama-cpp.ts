// Test-only bridge to node-llama-cpp, the independent reference the Llama model is checked against.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { floatToHalf, halfToFloat, type GgufFile } from '@distillery/gguf';
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';

export const MODELS = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
export const TEXT = fileURLToPath(new URL('../../../../shared/data/text/', import.meta.url));
export const STORIES260K = {
  F32: `${MODELS}stories260K.gguf`,
  F16: `${MODELS}stories260K-f16.gguf`,
  Q8_0: `${MODELS}stories260K-q8_0.gguf`,
} as const;
export const haveShared = existsSync(STORIES260K.F32);

/** The first `count` stories of the TinyStories excerpt. */
export function stories(count: number): string[] {
  return readFileSync(`${TEXT}tinystories-2MiB.txt`, 'utf8')
    .split('<|endoftext|>')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .slice(0, count);
}

let runtime: Promise<Llama> | undefined;

export class LlamaCpp {
  readonly #sequence;

  private constructor(
    readonly model: LlamaModel,
    readonly context: LlamaContext,
  ) {
    this.#sequence = context.getSequence();
  }

  /**
   * `exact`: llama.cpp's defaults (flash attention on the CPU, F16 KV cache) round keys, values and
   * queries to half precision (about 1e-2 on stories260K's tail log-probabilities); the parity checks
   * turn flash attention off and keep the cache in F32 so they compare the models, not that rounding.
   */
  static async load(
    modelPath: string,
    { contextSize = 512, exact = true }: { contextSize?: number; exact?: boolean } = {},
  ): Promise<LlamaCpp> {
    const lib = await import('node-llama-cpp');
    runtime ??= lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error });
    const model = await (await runtime).loadModel({ modelPath });
    const context = await model.createContext({
      contextSize,
      threads: 1,
      ...(exact ? { flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } : {}),
    });
    return new LlamaCpp(model, context);
  }

  /** BOS then the text's ids, at most `max` ids in all. */
  tokenize(text: string, max = Infinity): number[] {
    return [this.model.tokens.bos as number, ...(this.model.tokenize(text) as number[])].slice(0, max);
  }

  /** Next-token log-probabilities after every prefix of `ids`, each a full-vocabulary row (−∞ where llama.cpp gives no probability). */
  async logprobs(ids: readonly number[], vocab: number): Promise<Float64Array[]> {
    const sequence = this.#sequence;
    await sequence.clearHistory();
    {
      const results = await sequence.controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true } }]) as never);
      return ids.map((_, t) => {
        const row = new Float64Array(vocab).fill(-Infinity);
        const probs = (results[t] as { next?: { probabilities?: Map<number, number> } } | undefined)?.next?.probabilities;
        if (!probs) throw new Error(`llama.cpp gave no distribution at position ${t}`);
        for (const [id, p] of probs) row[id] = Math.log(p);
        return row;
      });
    }
  }

  /** Greedy (temperature 0) continuation of `ids`, `count` tokens. */
  async greedy(ids: readonly number[], count: number): Promise<number[]> {
    const sequence = this.#sequence;
    await sequence.clearHistory();
    const out: number[] = [];
    {
      for await (const token of sequence.evaluate(ids as never, { temperature: 0, yieldEogToken: true } as never)) {
        out.push(token as number);
        if (out.length >= count) break;
      }
      return out;
    }
  }

  detokenize(ids: readonly number[]): string {
    return this.model.detokenize(ids as never);
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

/** Largest |a − b| over entries where llama.cpp's log-probability is above `floor` (tiny probabilities are f32-rounded there). */
export function worstLogprobDiff(ours: ArrayLike<number>, theirs: Float64Array, floor = -30): number {
  let worst = 0;
  for (let i = 0; i < theirs.length; i++) if (theirs[i]! > floor) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
  return worst;
}

/**
 * llama.cpp's CPU matmuls convert the activations to the weight's "vec_dot" type before the dot
 * product: F16 against F16 weights, Q8_0 (blocks of 32 with one f16 scale) against Q8_0 weights.
 * This reproduces that rounding for the float64 reference, per tensor type of `file`.
 */
export function llamaCppInputRounding(file: GgufFile): (name: string, x: Float64Array) => Float64Array {
  const types = new Map(file.tensors.map((t) => [t.name, t.typeName]));
  const half = (v: number) => halfToFloat(floatToHalf(v));
  return (name, x) => {
    const type = types.get(name);
    if (type === 'F16') return x.map(half);
    if (type !== 'Q8_0') return x;
    const out = new Float64Array(x.length);
    for (let b = 0; b < x.length; b += 32) {
      let amax = 0;
      for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(Math.fround(x[i]!)));
      const d = Math.fround(amax / 127);
      const id = d ? Math.fround(1 / d) : 0;
      const scale = half(d);
      for (let i = b; i < b + 32; i++) out[i] = Math.round(Math.fround(Math.fround(x[i]!) * id)) * scale;
    }
    return out;
  };
}
