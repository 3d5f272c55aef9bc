import { argmaxRow, type TransformerLm } from '@distillery/nn';
import { readFloat32, uploadTensor } from '@distillery/webgpu';
import { encodeSource, END_OF_TEXT } from './sequences.js';

export interface GreedyDecodeOptions {
  /** Task prefix put before each input (`predict: `). */
  prefix: string;
  /** Most tokens generated per input (the end marker stops earlier). */
  maxTokens: number;
  /** Inputs decoded together in one forward per token. Default 32. */
  batchSize?: number;
}

/**
 * Greedy decoding of many inputs at once: each forward runs the whole batch of windows and every
 * unfinished row appends the arg-max after its last token. The model is causal, so the right
 * padding never changes a row's logits. Sources are cut like training rows, leaving room for
 * `maxTokens`.
 */
export async function greedyDecode(model: TransformerLm, inputs: readonly string[], options: GreedyDecodeOptions): Promise<string[]> {
  const { context } = model.settings;
  const tokenizer = model.tokenizer;
  const end = tokenizer.encode(END_OF_TEXT)[0]!;
  const batchSize = options.batchSize ?? 32;
  const V = model.vocabSize;
  const budget = Math.max(context - options.maxTokens, Math.floor(context / 2));
  const out: string[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const chunk = inputs.slice(start, start + batchSize);
    const rows = chunk.map((input) => encodeSource(tokenizer, options.prefix, input, budget).ids);
    const generated = chunk.map((): number[] => []);
    const done = chunk.map(() => false);
    const tokens = new Int32Array(chunk.length * context).fill(end);
    rows.forEach((ids, r) => tokens.set(ids, r * context));
    for (let step = 0; step < options.maxTokens && done.includes(false); step++) {
      const tensor = uploadTensor(model.device, { shape: [tokens.length], dtype: 'i32', data: tokens }, 'greedy-decode tokens');
      const logits = await readFloat32(await model.forward({ tokens: tensor, sequences: chunk.length }, { training: false }));
      tensor.release();
      rows.forEach((ids, r) => {
        if (done[r]) return;
        const position = ids.length + generated[r]!.length - 1;
        const best = argmaxRow(logits, (r * context + position) * V, V);
        if (best === end) return void (done[r] = true);
        generated[r]!.push(best);
        if (position + 2 >= context) done[r] = true;
        else tokens[r * context + position + 1] = best;
      });
    }
    for (const ids of generated) out.push(tokenizer.decode(ids));
  }
  return out;
}
