import { headDim, type LlamaSettings } from './config.js';

/** Host weights by GGUF tensor name (row-major, `[out, in]` for linear layers). */
export type LlamaHostWeights = Readonly<Record<string, ArrayLike<number>>>;

/**
 * How rotary embeddings pair a head's dimensions: `norm` (llama.cpp's LLAMA_ROPE_TYPE_NORM, the
 * layout of GGUF llama weights) rotates adjacent pairs (2i, 2i+1); `half` (Hugging Face's
 * rotate_half) rotates (i, i + ropeDims/2).
 */
export type RopePairing = 'norm' | 'half';

export interface LlamaReferenceOptions {
  rope?: RopePairing;
  /** Name of each weight in `weights` given its GGUF name (default: the GGUF name itself). */
  rename?: (ggufName: string) => string;
  /**
   * Applied to the input of each linear layer (by the weight's GGUF name) before the product: lets a
   * test reproduce an engine's rounding of activations (llama.cpp's CPU kernels round them to F16
   * against F16 weights and quantise them to Q8_0 against Q8_0 weights).
   */
  roundInput?: (ggufName: string, x: Float64Array) => Float64Array;
}

function rmsNorm(x: Float64Array, w: ArrayLike<number>, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return Float64Array.from(x, (v, i) => v * r * w[i]!);
}

/** y = W·x for a row-major `[out, in]` W. */
function linear(w: ArrayLike<number>, x: Float64Array, out: number): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += w[o * n + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

/** Rotates each head of `v` (heads × hd, in place) for position `pos`. */
function rope(v: Float64Array, heads: number, hd: number, ropeDims: number, base: number, pos: number, pairing: RopePairing): void {
  const half = ropeDims / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const theta = pos * Math.pow(base, (-2 * i) / ropeDims);
      const c = Math.cos(theta);
      const s = Math.sin(theta);
      const a = h * hd + (pairing === 'norm' ? 2 * i : i);
      const b = h * hd + (pairing === 'norm' ? 2 * i + 1 : i + half);
      const x0 = v[a]!;
      const x1 = v[b]!;
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

/** The hidden states of the float64 reference, one row per position. */
export interface LlamaReferenceResult {
  /** Next-token logits `[tokens.length, vocab]`, row-major. */
  logits: Float64Array;
  /** Residual stream after block l (`blocks.{l}`), each `[tokens.length][width]`. */
  blocks: Float64Array[][];
  /** Final RMSNorm output (`norm`). */
  norm: Float64Array[];
}

/**
 * A float64 Llama forward on the host, one sequence at positions 0…n−1, written from the
 * architecture's definition (not from the GPU code): the oracle the WebGPU model and the GGUF
 * reading are checked against.
 */
export function llamaReference(
  s: LlamaSettings,
  weights: LlamaHostWeights,
  tokens: readonly number[],
  options: LlamaReferenceOptions = {},
): LlamaReferenceResult {
  const pairing = options.rope ?? 'norm';
  const round = options.roundInput ?? ((_: string, x: Float64Array) => x);
  const get = (name: string): ArrayLike<number> => {
    const key = options.rename ? options.rename(name) : name;
    const w = weights[key];
    if (!w) throw new Error(`reference: no weight ${key}`);
    return w;
  };
  const hd = headDim(s);
  const D = s.width;
  const n = tokens.length;
  const group = s.heads / s.kvHeads;
  const emb = get('token_embd.weight');
  let xs: Float64Array[] = tokens.map((t) => Float64Array.from({ length: D }, (_, i) => emb[t * D + i]!));
  const blocks: Float64Array[][] = [];
  for (let l = 0; l < s.layers; l++) {
    const w = (part: string) => get(`blk.${l}.${part}.weight`);
    const project = (part: string, x: Float64Array, out: number) => linear(w(part), round(`blk.${l}.${part}.weight`, x), out);
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      const h = rmsNorm(xs[t]!, w('attn_norm'), s.rmsEps);
      const qt = project('attn_q', h, s.heads * hd);
      const kt = project('attn_k', h, s.kvHeads * hd);
      rope(qt, s.heads, hd, s.ropeDims, s.ropeBase, t, pairing);
      rope(kt, s.kvHeads, hd, s.ropeDims, s.ropeBase, t, pairing);
      q.push(qt);
      k.push(kt);
      v.push(project('attn_v', h, s.kvHeads * hd));
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      const att = new Float64Array(s.heads * hd);
      for (let h = 0; h < s.heads; h++) {
        const kv = Math.floor(h / group);
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[t]![h * hd + i]! * k[u]![kv * hd + i]!;
          scores[u] = dot / Math.sqrt(hd);
          max = Math.max(max, scores[u]!);
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) sum += scores[u] = Math.exp(scores[u]! - max);
        for (let u = 0; u <= t; u++) for (let i = 0; i < hd; i++) att[h * hd + i]! += (scores[u]! / sum) * v[u]![kv * hd + i]!;
      }
      const o = project('attn_output', att, D);
      const x1 = Float64Array.from(xs[t]!, (val, i) => val + o[i]!);
      const h2 = rmsNorm(x1, w('ffn_norm'), s.rmsEps);
      const gate = project('ffn_gate', h2, s.ffn);
      const up = project('ffn_up', h2, s.ffn);
      const act = Float64Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = project('ffn_down', act, D);
      next.push(Float64Array.from(x1, (val, i) => val + down[i]!));
    }
    xs = next;
    blocks.push(xs);
  }
  const norm = xs.map((x) => rmsNorm(x, get('output_norm.weight'), s.rmsEps));
  const headName = s.tiedHead ? 'token_embd.weight' : 'output.weight';
  const head = get(headName);
  const logits = new Float64Array(n * s.vocab);
  norm.forEach((h, t) => logits.set(linear(head, round(headName, h), s.vocab), t * s.vocab));
  return { logits, blocks, norm };
}

/** log-softmax of one row. */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row as ArrayLike<number>, (v) => v - lse);
}
