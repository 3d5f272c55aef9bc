import { badValue, type Completion, type HostTensor, type TopKTargets } from '@distillery/core';

/** Log-probability written in padding slots (rows with fewer than k known alternatives): exp() is 0, and finite so p·log p stays 0. */
export const TOPK_PAD_LOGPROB = -1e9;

export interface CompletionTopK {
  targets: TopKTargets<HostTensor>;
  /** Id of the token the teacher generated at each row (the student's next-token label), `[rows]` i32. */
  tokenIds: Int32Array;
  /** Alternatives whose text is not in the vocabulary (their probability went to `tailMass`). */
  unmapped: number;
}

/**
 * Sparse top-k targets from a completion's token log-probabilities, for the white-box KD losses of a
 * student that shares the teacher's tokenizer. Row r is the teacher's distribution over the token at
 * generated position r: `indices [rows, k]` (i32, ids via `tokenId`), `logprobs [rows, k]` (f32, at the
 * teacher's sampling temperature; use temperature 0 or 1 to get the model's T = 1 distribution),
 * `tailMass [rows]` = 1 − Σ exp(logprobs). Short rows are padded with unused ids at TOPK_PAD_LOGPROB.
 */
export function topKTargetsFromCompletion(
  completion: Completion,
  { k, tokenId }: { k: number; tokenId: (token: string) => number | undefined },
): CompletionTopK {
  if (!(Number.isInteger(k) && k >= 1)) throw badValue('k', k, 'an integer >= 1');
  const tokens = completion.tokens;
  if (!tokens || tokens.length === 0)
    throw badValue('completion.tokens', tokens, 'token log-probabilities (request topLogprobs from a teacher that gives them)');
  const rows = tokens.length;
  const indices = new Int32Array(rows * k);
  const logprobs = new Float32Array(rows * k).fill(TOPK_PAD_LOGPROB);
  const tailMass = new Float32Array(rows);
  const tokenIds = new Int32Array(rows).fill(-1);
  let unmapped = 0;
  for (let r = 0; r < rows; r++) {
    const t = tokens[r]!;
    const best = new Map<number, number>();
    const candidates = t.top.some((a) => a.token === t.token) ? t.top : [{ token: t.token, logprob: t.logprob }, ...t.top];
    for (const alt of candidates) {
      const id = tokenId(alt.token);
      if (id === undefined || id < 0) {
        unmapped++;
        continue;
      }
      if (!best.has(id) || best.get(id)! < alt.logprob) best.set(id, alt.logprob);
    }
    tokenIds[r] = tokenId(t.token) ?? -1;
    const sorted = [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
    let mass = 0;
    const used = new Set<number>();
    sorted.forEach(([id, lp], j) => {
      indices[r * k + j] = id;
      logprobs[r * k + j] = lp;
      mass += Math.exp(lp);
      used.add(id);
    });
    let pad = 0;
    for (let j = sorted.length; j < k; j++) {
      while (used.has(pad)) pad++;
      indices[r * k + j] = pad;
      used.add(pad);
    }
    tailMass[r] = Math.max(0, 1 - mass);
  }
  return {
    targets: {
      kind: 'topk',
      k,
      indices: { shape: [rows, k], dtype: 'i32', data: indices },
      logprobs: { shape: [rows, k], dtype: 'f32', data: logprobs },
      tailMass: { shape: [rows], dtype: 'f32', data: tailMass },
    },
    tokenIds,
    unmapped,
  };
}
