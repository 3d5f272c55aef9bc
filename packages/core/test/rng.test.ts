import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from '../src/index.js';

describe('Rng', () => {
  it('is reproducible from a seed and resumable from its state', () => {
    const a = new Rng(42);
    const first = [a.next(), a.next()];
    const saved = a.state;
    const next = [a.next(), a.next()];
    expect([new Rng(42).next(), new Rng(42).next()][0]).toBe(first[0]);
    const b = new Rng(0);
    b.state = saved;
    expect([b.next(), b.next()]).toEqual(next);
  });

  it('draws uniform numbers with the right mean and permutations that are permutations', () => {
    const r = new Rng(1);
    let sum = 0;
    for (let i = 0; i < 20000; i++) sum += r.next();
    expect(sum / 20000).toBeCloseTo(0.5, 2);
    const p = Array.from(new Rng(3).permutation(100)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(deriveSeed(1, 'a')).not.toBe(deriveSeed(1, 'b'));
  });
});
