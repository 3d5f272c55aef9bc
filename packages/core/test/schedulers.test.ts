import { describe, expect, it } from 'vitest';
import { constant, cosine, createRegistry, isDistilleryError, linear, stepDecay, warmup, type Scheduler } from '../src/index.js';

describe('schedulers', () => {
  it('constant is the same everywhere', () => {
    const s = constant(3);
    expect([0, 5, 99].map((i) => s.value(i, 100))).toEqual([3, 3, 3]);
  });

  it('linear hits from at step 0, to at the end, the midpoint halfway, and holds after a short ramp', () => {
    const s = linear({ from: 1, to: 0 });
    expect(s.value(0, 10)).toBe(1);
    expect(s.value(5, 10)).toBeCloseTo(0.5, 12);
    expect(s.value(10, 10)).toBe(0);
    const short = linear({ from: 4, to: 2, steps: 4 });
    expect(short.value(2, 100)).toBe(3);
    expect(short.value(50, 100)).toBe(2);
  });

  it('cosine starts at from, ends at to and is symmetric around the middle', () => {
    const s = cosine({ from: 2, to: 0 });
    expect(s.value(0, 100)).toBeCloseTo(2, 12);
    expect(s.value(100, 100)).toBeCloseTo(0, 12);
    expect(s.value(50, 100)).toBeCloseTo(1, 12);
    expect(s.value(25, 100) + s.value(75, 100)).toBeCloseTo(2, 12);
  });

  it('step decays exactly at the boundaries', () => {
    const every = stepDecay({ initial: 1, gamma: 0.5, every: 10 });
    expect([0, 9, 10, 19, 20].map((i) => every.value(i, 100))).toEqual([1, 1, 0.5, 0.5, 0.25]);
    const milestones = stepDecay({ initial: 1, gamma: 0.1, milestones: [3, 7] });
    expect([2, 3, 6, 7].map((i) => milestones.value(i, 10))).toEqual([1, 0.1, 0.1, 0.1 * 0.1]);
  });

  it('warmup ramps linearly to the first value of `then`, then hands over', () => {
    const s = warmup({ steps: 10, then: cosine({ from: 1, to: 0 }) });
    expect(s.value(0, 110)).toBe(0);
    expect(s.value(5, 110)).toBeCloseTo(0.5, 12);
    expect(s.value(10, 110)).toBeCloseTo(1, 12);
    expect(s.value(110, 110)).toBeCloseTo(0, 12);
  });

  it('rejects bad steps with a field-named error', () => {
    const s = constant(1);
    try {
      s.value(-1, 10);
      expect.unreachable();
    } catch (error) {
      expect(isDistilleryError(error, 'E_BAD_VALUE')).toBe(true);
      expect((error as Error).message).toContain('step must be an integer >= 0, got -1');
    }
  });

  it('are built from config through the registry, nested warmup included', async () => {
    const registry = createRegistry();
    const s = await registry.create<Scheduler>('scheduler', { name: 'warmup', steps: 4, then: { name: 'linear', from: 2, to: 0 } });
    expect(s.value(2, 8)).toBeCloseTo(1, 12);
    expect(s.value(4, 8)).toBeCloseTo(2, 12);
    expect(s.value(8, 8)).toBeCloseTo(0, 12);
  });
});
