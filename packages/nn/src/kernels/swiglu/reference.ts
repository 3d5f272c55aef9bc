const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Float64 reference of SwiGLU: out = silu(gate) ⊙ up, silu(z) = z·σ(z). */
export function swigluReference(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from(gate, (g, i) => g * sigmoid(g) * up[i]!);
}

/** Float64 gradients of SwiGLU: dgate = dout·up·σ(g)·(1 + g·(1 − σ(g))), dup = dout·g·σ(g). */
export function swigluBackwardReference(
  dout: ArrayLike<number>,
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    const s = sigmoid(g);
    dgate[i] = dout[i]! * up[i]! * s * (1 + g * (1 - s));
    dup[i] = dout[i]! * g * s;
  }
  return { dgate, dup };
}
