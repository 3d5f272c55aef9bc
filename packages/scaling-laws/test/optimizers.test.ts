import { describe, expect, it } from 'vitest';
import { BoundedLbfgs, bisectRoot, minimize1d } from '../src/index.js';

function rosenbrock(x: Float64Array, g: Float64Array): number {
  let f = 0;
  g.fill(0);
  for (let i = 0; i < x.length - 1; i++) {
    const a = x[i + 1]! - x[i]! * x[i]!;
    const b = 1 - x[i]!;
    f += 100 * a * a + b * b;
    g[i] = g[i]! - 400 * x[i]! * a - 2 * b;
    g[i + 1] = g[i + 1]! + 200 * a;
  }
  return f;
}

describe('bounded L-BFGS', () => {
  it('minimises the Rosenbrock function without active bounds', () => {
    const x = new Float64Array([-1.2, 1, -1.2, 1]);
    const result = new BoundedLbfgs(4).minimize(rosenbrock, x, new Float64Array(4).fill(-5), new Float64Array(4).fill(5), {
      maxIterations: 500,
      gradientTolerance: 1e-10,
      functionTolerance: 0,
    });
    expect(result.converged).toBe(true);
    for (const v of x) expect(v).toBeCloseTo(1, 6);
  });

  it('stops on the bound with the gradient pointing outward (KKT point)', () => {
    // min (x0 - 3)^2 + (x1 + 2)^2 + x0 x1 / 2 on [0, 1] x [0, 1]: the optimum is the corner (1, 0).
    const fn = (x: Float64Array, g: Float64Array) => {
      g[0] = 2 * (x[0]! - 3) + x[1]! / 2;
      g[1] = 2 * (x[1]! + 2) + x[0]! / 2;
      return (x[0]! - 3) ** 2 + (x[1]! + 2) ** 2 + (x[0]! * x[1]!) / 2;
    };
    const x = new Float64Array([0.5, 0.5]);
    const result = new BoundedLbfgs(2).minimize(fn, x, new Float64Array([0, 0]), new Float64Array([1, 1]));
    expect(result.converged).toBe(true);
    expect(Array.from(x)).toEqual([1, 0]);
  });

  it('finds an interior optimum in one coordinate while another is pinned', () => {
    const fn = (x: Float64Array, g: Float64Array) => {
      g[0] = 2 * (x[0]! - 0.25);
      g[1] = -1;
      return (x[0]! - 0.25) ** 2 - x[1]!;
    };
    const x = new Float64Array([0.9, 0]);
    new BoundedLbfgs(2).minimize(fn, x, new Float64Array([0, 0]), new Float64Array([1, 2]), { gradientTolerance: 1e-12 });
    expect(x[0]).toBeCloseTo(0.25, 8);
    expect(x[1]).toBe(2);
  });

  it('reuses its buffers across many starts with identical results', () => {
    const optimizer = new BoundedLbfgs(4);
    const lower = new Float64Array(4).fill(-5);
    const upper = new Float64Array(4).fill(5);
    const first = new Float64Array([0, 0, 0, 0]);
    optimizer.minimize(rosenbrock, first, lower, upper);
    optimizer.minimize(rosenbrock, new Float64Array([2, 2, 2, 2]), lower, upper);
    const again = new Float64Array([0, 0, 0, 0]);
    optimizer.minimize(rosenbrock, again, lower, upper);
    expect(Array.from(again)).toEqual(Array.from(first));
  });

  it('reports a non-finite start instead of looping', () => {
    const result = new BoundedLbfgs(1).minimize(() => NaN, new Float64Array([0]), new Float64Array([-1]), new Float64Array([1]));
    expect(result.reason).toBe('non-finite');
    expect(result.converged).toBe(false);
  });
});

describe('one-dimensional search', () => {
  it('finds the global minimum of a multimodal function by scanning first', () => {
    const f = (x: number) => Math.sin(3 * x) + 0.1 * (x - 2) ** 2;
    const best = minimize1d(f, -5, 5, { gridPoints: 200 });
    for (let x = -5; x <= 5; x += 0.001) expect(f(x)).toBeGreaterThanOrEqual(best.f - 1e-9);
  });

  it('skips infeasible points marked Infinity', () => {
    const best = minimize1d((x) => (x < 1 ? Infinity : (x - 0.5) ** 2), 0, 3);
    expect(best.x).toBeCloseTo(1, 6);
  });

  it('bisects to a root', () => {
    expect(bisectRoot((x) => x * x - 2, 0, 2)).toBeCloseTo(Math.SQRT2, 9);
  });
});
