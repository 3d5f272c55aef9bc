import { badValue, requirePositive } from '@distillery/core';

/** Architecture of the fixed-aspect-ratio family used by Busbridge et al. (their appendix on FLOP counting). */
export interface AspectRatioArchitecture {
  /** rho = d_model / n_layers (paper: 128). */
  aspectRatio?: number;
  /** n_ctx (paper: 4096). */
  contextLength?: number;
  /** g = query heads per key/value head (paper: 1). */
  queryGroups?: number;
  /** n_ffn, matrices in the feed-forward block (paper: 3, a gated MLP). */
  ffnMatrices?: number;
  /** rho_ffn = d_ffn / d_model (paper: 8/3). */
  ffnRatio?: number;
  /** n_vocab (paper: 32,000). */
  vocabSize?: number;
}

/** How forward FLOPs per token F(N) are counted: 2N, or 2N with the attention and vocabulary correction. */
export type FlopsModel = { kind: 'simple' } | ({ kind: 'aspect-ratio' } & AspectRatioArchitecture);

export const SIMPLE_FLOPS: FlopsModel = Object.freeze({ kind: 'simple' });

export const PAPER_ARCHITECTURE: Readonly<Required<AspectRatioArchitecture>> = Object.freeze({
  aspectRatio: 128,
  contextLength: 4096,
  queryGroups: 1,
  ffnMatrices: 3,
  ffnRatio: 8 / 3,
  vocabSize: 32000,
});

/**
 * sigma1 = (1 / (rho * omega^2))^(1/3) and sigma2 = (rho / omega)^(1/3), omega = 2 + 2/g + n_ffn * rho_ffn.
 * With the paper's architecture: sigma1 ~ 0.037857, sigma2 ~ 2.201285.
 */
export function aspectRatioCoefficients(architecture: AspectRatioArchitecture = {}): { sigma1: number; sigma2: number; omega: number } {
  const a: Required<AspectRatioArchitecture> = { ...PAPER_ARCHITECTURE };
  for (const field of Object.keys(PAPER_ARCHITECTURE) as (keyof AspectRatioArchitecture)[]) {
    const value = architecture[field];
    if (value !== undefined) a[field] = requirePositive(`architecture.${field}`, value);
  }
  const omega = 2 + 2 / a.queryGroups + a.ffnMatrices * a.ffnRatio;
  return { sigma1: Math.cbrt(1 / (a.aspectRatio * omega * omega)), sigma2: Math.cbrt(a.aspectRatio / omega), omega };
}

/** Forward FLOPs per token F(N): 2N, or 2N (1 + sigma1 n_ctx / N^(1/3) + sigma2 n_vocab / N^(2/3)). */
export function forwardFlopsPerToken(params: number, model: FlopsModel = SIMPLE_FLOPS): number {
  if (model.kind === 'simple') return 2 * params;
  if (model.kind !== 'aspect-ratio') throw badValue('flops.kind', (model as { kind: unknown }).kind, "'simple' or 'aspect-ratio'");
  const { sigma1, sigma2 } = aspectRatioCoefficients(model);
  const contextLength = model.contextLength ?? PAPER_ARCHITECTURE.contextLength;
  const vocabSize = model.vocabSize ?? PAPER_ARCHITECTURE.vocabSize;
  return 2 * params * (1 + (sigma1 * contextLength) / Math.cbrt(params) + (sigma2 * vocabSize) / Math.pow(params, 2 / 3));
}

/** Training FLOPs of a supervised run: 3 F(N) D (forward plus backward). */
export function supervisedFlops(params: number, tokens: number, model: FlopsModel = SIMPLE_FLOPS): number {
  return 3 * forwardFlopsPerToken(params, model) * tokens;
}
