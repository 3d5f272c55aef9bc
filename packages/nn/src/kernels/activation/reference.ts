import { dropoutKeep, streamKey } from '../../random.js';
import { activationGradRef, activationRef, type Activation } from '../activation-math.js';
import type { DropoutSpec } from '../matmul/matmul.js';

function maskAt(dropout: DropoutSpec | undefined, key: number, i: number): number {
  if (!dropout || dropout.p === 0) return 1;
  return dropoutKeep(key, i, dropout.p) ? Math.fround(1 / (1 - dropout.p)) : 0;
}

/** Float64 reference of y = dropout(act(x)). */
export function activationReference(x: ArrayLike<number>, activation: Activation, dropout?: DropoutSpec): Float64Array {
  const key = dropout ? streamKey(dropout.seed, dropout.step) : 0;
  return Float64Array.from(x, (v, i) => activationRef(activation, v) * maskAt(dropout, key, i));
}

/** Float64 reference of dx = dy · mask · act'(z). */
export function activationBackwardReference(
  gradOut: ArrayLike<number>,
  z: ArrayLike<number>,
  activation: Activation,
  dropout?: DropoutSpec,
): Float64Array {
  const key = dropout ? streamKey(dropout.seed, dropout.step) : 0;
  return Float64Array.from(gradOut, (g, i) => g * activationGradRef(activation, z[i]!) * maskAt(dropout, key, i));
}
