import { dropoutKeep, streamKey } from '../../random.js';
import { activationRef, type Activation } from '../activation-math.js';
import type { DropoutSpec, MatmulDims } from './matmul.js';

export interface MatmulReferenceOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number>;
  activation?: Activation;
  dropout?: DropoutSpec;
  /** Initial C to accumulate onto. */
  accumulate?: ArrayLike<number>;
}

/**
 * Float64 reference of the matmul kernel, epilogue included. Returns the output, the
 * pre-activation and, per element, the Σ|a·b| bound the f32 error is measured against.
 */
export function matmulReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  { batch, M, N, K }: MatmulDims,
  options: MatmulReferenceOptions = {},
): { out: Float64Array; pre: Float64Array; absSum: Float64Array } {
  const out = new Float64Array(batch * M * N);
  const pre = new Float64Array(batch * M * N);
  const absSum = new Float64Array(batch * M * N);
  const key = options.dropout ? streamKey(options.dropout.seed, options.dropout.step) : 0;
  for (let t = 0; t < batch; t++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        let abs = 0;
        for (let k = 0; k < K; k++) {
          const av = a[t * M * K + (options.transA ? k * M + m : m * K + k)]!;
          const bv = b[t * K * N + (options.transB ? n * K + k : k * N + n)]!;
          sum += av * bv;
          abs += Math.abs(av * bv);
        }
        const index = t * M * N + m * N + n;
        if (options.bias) sum += options.bias[n]!;
        if (options.accumulate) sum += options.accumulate[index]!;
        pre[index] = sum;
        let value = activationRef(options.activation ?? 'none', sum);
        if (options.dropout && options.dropout.p > 0) {
          value = dropoutKeep(key, index, options.dropout.p) ? value * Math.fround(1 / (1 - options.dropout.p)) : 0;
        }
        out[index] = value;
        absSum[index] = abs;
      }
    }
  }
  return { out, pre, absSum };
}
