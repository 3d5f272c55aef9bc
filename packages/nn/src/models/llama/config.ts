import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const LLAMA_KIND = 'llama-lm';

export const llamaConfigSchema = z
  .object({
    /** Number of token ids (the tokenizer's vocabulary). */
    vocab: positiveInt,
    /** Model width (llama.embedding_length / hidden_size). */
    width: positiveInt,
    layers: positiveInt,
    /** Query heads. */
    heads: positiveInt,
    /** Key/value heads (grouped-query attention): each serves heads / kvHeads query heads. */
    kvHeads: positiveInt,
    /** Hidden width of the SwiGLU feed-forward (llama.feed_forward_length / intermediate_size). */
    ffn: positiveInt,
    /** Leading dimensions of each head that rotary embeddings rotate (llama.rope.dimension_count); default the head width. */
    ropeDims: positiveInt.optional(),
    /** RoPE frequency base θ (llama.rope.freq_base). */
    ropeBase: z.number().positive().default(10000),
    /** RMSNorm ε (llama.attention.layer_norm_rms_epsilon). */
    rmsEps: z.number().positive().default(1e-5),
    /** Tokens per sequence the model is run on (at most the context it was trained for). */
    context: positiveInt,
    /** Output head shares the token embedding (no separate `output.weight`). */
    tiedHead: z.boolean().default(false),
    /** Token ids recorded in exports (GGUF / Hugging Face config). */
    bosToken: z.number().int().min(0).default(1),
    eosToken: z.number().int().min(0).default(2),
    /** Seed of the random initialisation. */
    seed: z.number().int().min(0).max(0xffffffff).default(0),
  })
  .strict()
  .refine((c) => c.width % c.heads === 0, { message: 'width must be a multiple of heads', path: ['heads'] })
  .refine((c) => c.heads % c.kvHeads === 0, { message: 'heads must be a multiple of kvHeads', path: ['kvHeads'] })
  .refine((c) => (c.width / c.heads) % 2 === 0, { message: 'the head width (width / heads) must be even for rotary embeddings', path: ['heads'] })
  .refine((c) => c.ropeDims === undefined || (c.ropeDims % 2 === 0 && c.ropeDims <= c.width / c.heads), {
    message: 'ropeDims must be even and at most the head width (width / heads)',
    path: ['ropeDims'],
  })
  .refine((c) => c.bosToken < c.vocab && c.eosToken < c.vocab, { message: 'bosToken and eosToken must be token ids below vocab', path: ['bosToken'] })
  .transform((c) => ({ ...c, ropeDims: c.ropeDims ?? c.width / c.heads }));

export type LlamaConfig = z.input<typeof llamaConfigSchema>;
export type LlamaSettings = z.output<typeof llamaConfigSchema>;

/** Width of one attention head. */
export function headDim(s: Pick<LlamaSettings, 'width' | 'heads'>): number {
  return s.width / s.heads;
}

/**
 * The parameters of a Llama, by their GGUF (llama.cpp) tensor names, row-major shapes (`[out, in]`
 * for a linear layer: y = x·Wᵀ). The q/k rows are in llama.cpp's layout (rotary pairs adjacent).
 */
export function llamaParameterShapes(s: LlamaSettings): [string, number[]][] {
  const hd = headDim(s);
  const shapes: [string, number[]][] = [['token_embd.weight', [s.vocab, s.width]]];
  for (let l = 0; l < s.layers; l++) {
    shapes.push(
      [`blk.${l}.attn_norm.weight`, [s.width]],
      [`blk.${l}.attn_q.weight`, [s.heads * hd, s.width]],
      [`blk.${l}.attn_k.weight`, [s.kvHeads * hd, s.width]],
      [`blk.${l}.attn_v.weight`, [s.kvHeads * hd, s.width]],
      [`blk.${l}.attn_output.weight`, [s.width, s.heads * hd]],
      [`blk.${l}.ffn_norm.weight`, [s.width]],
      [`blk.${l}.ffn_gate.weight`, [s.ffn, s.width]],
      [`blk.${l}.ffn_up.weight`, [s.ffn, s.width]],
      [`blk.${l}.ffn_down.weight`, [s.width, s.ffn]],
    );
  }
  shapes.push(['output_norm.weight', [s.width]]);
  if (!s.tiedHead) shapes.push(['output.weight', [s.vocab, s.width]]);
  return shapes;
}
