import { describe, expect, it } from 'vitest';
import { TOPK_PAD_LOGPROB, topKTargetsFromCompletion } from '../src/index.js';

describe('topKTargetsFromCompletion', () => {
  const vocab = new Map([
    ['a', 0],
    ['b', 1],
    ['c', 2],
    ['d', 3],
  ]);
  const tokenId = (t: string) => vocab.get(t);

  it('maps alternatives to ids, sorts, pads short rows with unused ids, and folds the rest into tailMass', () => {
    const { targets, tokenIds, unmapped } = topKTargetsFromCompletion(
      {
        text: 'ab',
        tokens: [
          {
            token: 'a',
            logprob: Math.log(0.6),
            top: [
              { token: 'b', logprob: Math.log(0.3) },
              { token: 'a', logprob: Math.log(0.6) },
              { token: 'zz', logprob: Math.log(0.05) },
            ],
          },
          { token: 'b', logprob: Math.log(0.9), top: [] },
        ],
      },
      { k: 3, tokenId },
    );
    expect(Array.from(tokenIds)).toEqual([0, 1]);
    expect(unmapped).toBe(1);
    expect(targets.indices.shape).toEqual([2, 3]);
    expect(Array.from(targets.indices.data)).toEqual([0, 1, 2, 1, 0, 2]);
    const lp = Array.from(targets.logprobs.data);
    expect(lp[0]).toBeCloseTo(Math.log(0.6), 6);
    expect(lp[1]).toBeCloseTo(Math.log(0.3), 6);
    expect(lp[2]).toBe(TOPK_PAD_LOGPROB);
    expect(lp[3]).toBeCloseTo(Math.log(0.9), 6);
    expect(lp.slice(4)).toEqual([TOPK_PAD_LOGPROB, TOPK_PAD_LOGPROB]);
    expect(targets.tailMass!.data[0]).toBeCloseTo(0.1, 6);
    expect(targets.tailMass!.data[1]).toBeCloseTo(0.1, 6);
    // The padding has zero probability and finite logs: p·log p stays 0.
    expect(Math.exp(TOPK_PAD_LOGPROB) * TOPK_PAD_LOGPROB).toBe(-0);
  });

  it('needs token log-probabilities and a positive k', () => {
    expect(() => topKTargetsFromCompletion({ text: 'x' }, { k: 2, tokenId })).toThrow(/topLogprobs/);
    expect(() => topKTargetsFromCompletion({ text: 'x', tokens: [{ token: 'a', logprob: 0, top: [] }] }, { k: 0, tokenId })).toThrow(
      /k must be/,
    );
  });
});
