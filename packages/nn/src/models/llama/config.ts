import * as z from 'zod/mini';

const positiveInt = z.number().check(z.int(), z.positive());

export const LLAMA_KIND = 'llama-lm';

export const llamaConfigSchema = z.pipe(
  z
    .strictObject({
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
      ropeDims: z.optional(positiveInt),
      /** RoPE frequency base θ (llama.rope.freq_base). */
      ropeBase: z._default(z.number().check(z.positive()), 10000),
      /** RMSNorm ε (llama.attention.layer_norm_rms_epsilon). */
      rmsEps: z._default(z.number().check(z.positive()), 1e-5),
      /** Tokens per sequence the model is run on (at most the context it was trained for). */
      context: positiveInt,
      /** Output head shares the token embedding (no separate `output.weight`). */
      tiedHead: z._default(z.boolean(), false),
      /** Token ids recorded in exports (GGUF / Hugging Face config). */
      bosToken: z._default(z.number().check(z.int(), z.gte(0)), 1),
      eosToken: z._default(z.number().check(z.int(), z.gte(0)), 2),
      /** Seed of the random initialisation. */
      seed: z._default(z.number().check(z.int(), z.gte(0), z.lte(0xffffffff)), 0),
    })
    .check(
      z.refine((c) => c.width % c.heads === 0, { message: 'width must be a multiple of heads', path: ['heads'] }),
      z.refine((c) => c.heads % c.kvHeads === 0, { message: 'heads must be a multiple of kvHeads', path: ['kvHeads'] }),
      z.refine((c) => (c.width / c.heads) % 2 === 0, {
        message: 'the head width (width / heads) must be even for rotary embeddings',
        path: ['heads'],
      }),
      z.refine((c) => c.ropeDims === undefined || (c.ropeDims % 2 === 0 && c.ropeDims <= c.width / c.heads), {
        message: 'ropeDims must be even and at most the head width (width / heads)',
        path: ['ropeDims'],
      }),
      z.refine((c) => c.bosToken < c.vocab && c.eosToken < c.vocab, {
        message: 'bosToken and eosToken must be token ids below vocab',
        path: ['bosToken'],
      }),
    ),
  z.transform((c) => ({ ...c, ropeDims: c.ropeDims ?? c.width / c.heads })),
);

export type LlamaConfig = z.input<typeof llamaConfigSchema>;
export type LlamaSettings = z.output<typeof llamaConfigSchema>;

/** A student's own size; everything else it takes from its teacher (`llamaStudentConfig`). */
export interface LlamaStudentSize {
  width: number;
  layers: number;
  heads: number;
  /** Default: `heads` (no grouping). */
  kvHeads?: number;
  /** Default: the teacher's feed-forward ratio (stories260K: 172 / 64) at the student's width. */
  ffn?: number;
}

/**
 * The config of a smaller Llama that shares its teacher's vocabulary, RoPE base, RMSNorm ε, head
 * tying and special tokens, so the teacher's tokenizer serves it and its GGUF carries the teacher's.
 */
export function llamaStudentConfig(
  teacher: LlamaSettings,
  size: LlamaStudentSize,
  { context, seed }: { context: number; seed?: number },
): LlamaConfig {
  return {
    vocab: teacher.vocab,
    width: size.width,
    layers: size.layers,
    heads: size.heads,
    kvHeads: size.kvHeads ?? size.heads,
    ffn: size.ffn ?? Math.max(1, Math.round((size.width * teacher.ffn) / teacher.width)),
    ropeBase: teacher.ropeBase,
    rmsEps: teacher.rmsEps,
    context,
    tiedHead: teacher.tiedHead,
    bosToken: teacher.bosToken,
    eosToken: teacher.eosToken,
    ...(seed === undefined ? {} : { seed }),
  };
}

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
