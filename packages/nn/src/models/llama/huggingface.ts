import { DistilleryError, encodeSafetensors, type HostTensor } from '@distillery/core';
import { headDim, llamaParameterShapes, type LlamaSettings } from './config.js';

/** A Hugging Face `LlamaForCausalLM` checkpoint: `config.json` and `model.safetensors`. */
export interface HuggingFaceLlama {
  'config.json': string;
  'model.safetensors': Uint8Array;
}

/** The Hugging Face name of each GGUF tensor name. */
export function huggingFaceName(ggufName: string): string {
  const fixed: Record<string, string> = {
    'token_embd.weight': 'model.embed_tokens.weight',
    'output_norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
  };
  if (fixed[ggufName]) return fixed[ggufName];
  const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(ggufName);
  const parts: Record<string, string> = {
    attn_norm: 'input_layernorm',
    attn_q: 'self_attn.q_proj',
    attn_k: 'self_attn.k_proj',
    attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj',
    ffn_norm: 'post_attention_layernorm',
    ffn_gate: 'mlp.gate_proj',
    ffn_up: 'mlp.up_proj',
    ffn_down: 'mlp.down_proj',
  };
  if (!m || !parts[m[2]!])
    throw new DistilleryError('E_BAD_VALUE', `no Hugging Face name for tensor ${ggufName}`, { field: 'tensor', value: ggufName });
  return `model.layers.${m[1]}.${parts[m[2]!]}.weight`;
}

/**
 * Undoes llama.cpp's q/k row permutation. `convert_hf_to_gguf.py` reorders each head's rows from
 * HF's rotate_half layout (rotary pair i = rows i and i + d/2) to ggml's NORM layout (pair i = rows
 * 2i and 2i+1): `w.reshape(heads, 2, d/2, in).swapaxes(1, 2)`. Here GGUF row h·d + 2i + s goes back
 * to HF row h·d + s·d/2 + i.
 */
export function unpermuteRotaryRows(w: Float32Array, heads: number, rowLength: number): Float32Array {
  const d = w.length / rowLength / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < d / 2; i++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * d + 2 * i + s) * rowLength;
        const to = (h * d + s * (d / 2) + i) * rowLength;
        out.set(w.subarray(from, from + rowLength), to);
      }
    }
  }
  return out;
}

/**
 * The model as a Hugging Face `LlamaForCausalLM` checkpoint (transformers loads it with
 * `from_pretrained(folder)`; the tokenizer is not included). Hugging Face's Llama rotates the whole
 * head, so a model with ropeDims < head width is refused.
 */
export function llamaToHuggingFace(settings: LlamaSettings, weights: Readonly<Record<string, Float32Array>>): HuggingFaceLlama {
  const s = settings;
  const hd = headDim(s);
  if (s.ropeDims !== hd) {
    throw new DistilleryError(
      'E_UNSUPPORTED',
      `Hugging Face's LlamaForCausalLM rotates whole heads; this model rotates ${s.ropeDims} of ${hd} dimensions per head`,
      {
        field: 'ropeDims',
        value: s.ropeDims,
        expected: String(hd),
      },
    );
  }
  const tensors: Record<string, HostTensor> = {};
  for (const [name, shape] of llamaParameterShapes(s)) {
    let data = weights[name]!;
    if (name.endsWith('attn_q.weight')) data = unpermuteRotaryRows(data, s.heads, s.width);
    if (name.endsWith('attn_k.weight')) data = unpermuteRotaryRows(data, s.kvHeads, s.width);
    tensors[huggingFaceName(name)] = { shape, dtype: 'f32', data };
  }
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: s.vocab,
    hidden_size: s.width,
    intermediate_size: s.ffn,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: hd,
    hidden_act: 'silu',
    max_position_embeddings: s.context,
    rms_norm_eps: s.rmsEps,
    rope_theta: s.ropeBase,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: s.tiedHead,
    bos_token_id: s.bosToken,
    eos_token_id: s.eosToken,
    torch_dtype: 'float32',
  };
  return {
    'config.json': `${JSON.stringify(config, null, 2)}\n`,
    'model.safetensors': encodeSafetensors({ tensors, metadata: { format: 'pt' } }),
  };
}
