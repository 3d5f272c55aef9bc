export type RopeLayout = 'norm' | 'neox';

export interface RopeShape {
  /** Independent sequences in the batch; rows are `[sequences · context]`. */
  sequences: number;
  /** Rows per sequence: row r is at position (r mod context) + positionOffset. */
  context: number;
  heads: number;
  headDim: number;
  /** Leading dimensions of each head that are rotated (even, ≤ headDim); the rest pass through. */
  ropeDims: number;
  /** Frequency base (`rope_freq_base`, HF `rope_theta`), typically 10000. */
  base: number;
}

export interface RopeOptions extends RopeShape {
  positionOffset?: number;
  /** Rotate by −θ: the backward (and the inverse) of the forward rotation. */
  inverse?: boolean;
  /**
   * Which dimensions form a rotated pair. `'norm'`: adjacent (x[2i], x[2i+1]) — llama.cpp's
   * LLAMA_ROPE_TYPE_NORM, the layout GGUF llama weights are stored for. `'neox'`: (x[i], x[i + ropeDims/2])
   * — rotate_half, as HF transformers' Llama and GPT-NeoX.
   */
  layout: RopeLayout;
}

/** Element indices (within a head) of rotated pair i < ropeDims/2. */
export function ropePair(layout: RopeLayout, i: number, ropeDims: number): [number, number] {
  return layout === 'norm' ? [2 * i, 2 * i + 1] : [i, i + ropeDims / 2];
}

/**
 * Float64 rotary position embedding of `x [sequences·context, heads·headDim]`: pair i of every head
 * of the row at position p is rotated by θ = p · base^(−2i/ropeDims) (by −θ when `inverse`).
 */
export function ropeReference(x: ArrayLike<number>, options: RopeOptions): Float64Array {
  const { sequences, context, heads, headDim, ropeDims, base, positionOffset = 0, inverse = false, layout } = options;
  const y = Float64Array.from(x);
  const width = heads * headDim;
  for (let r = 0; r < sequences * context; r++) {
    const pos = (r % context) + positionOffset;
    for (let h = 0; h < heads; h++) {
      const at = r * width + h * headDim;
      for (let i = 0; i < ropeDims / 2; i++) {
        const theta = pos * base ** ((-2 * i) / ropeDims);
        const c = Math.cos(theta);
        const s = inverse ? -Math.sin(theta) : Math.sin(theta);
        const [a, b] = ropePair(layout, i, ropeDims);
        const x0 = x[at + a]!;
        const x1 = x[at + b]!;
        y[at + a] = x0 * c - x1 * s;
        y[at + b] = x0 * s + x1 * c;
      }
    }
  }
  return y;
}
