// A tiny CPU implementation of every contract, so the loop can be tested without a GPU.
import type {
  DataSource,
  HostTensor,
  Loss,
  LossOutput,
  ModelState,
  Optimizer,
  OptimizerState,
  Parameter,
  Student,
  WhiteBoxTeacher,
} from '../src/index.js';
import { Rng, deriveSeed } from '../src/index.js';

export interface CpuBatch {
  x: Float32Array; // [rows, features]
  labels: HostTensor; // i32 [rows]
  rows: number;
}

const host = (data: Float32Array | Int32Array, shape: number[]): HostTensor => ({
  data,
  shape,
  dtype: data instanceof Int32Array ? 'i32' : 'f32',
});

/** Softmax regression: logits = x · W. */
export class CpuLinearStudent implements Student<CpuBatch, HostTensor> {
  readonly name = 'cpu-linear';
  readonly weight: Parameter<HostTensor>;
  #lastX: Float32Array | undefined;
  #lastRows = 0;

  constructor(
    readonly features: number,
    readonly vocabSize: number,
    seed: number,
  ) {
    const rng = new Rng(seed);
    const w = new Float32Array(features * vocabSize).map(() => rng.normal() * 0.1);
    this.weight = { name: 'w', value: host(w, [features, vocabSize]), grad: host(new Float32Array(w.length), [features, vocabSize]) };
  }

  async forward(batch: CpuBatch): Promise<HostTensor> {
    const { features: f, vocabSize: v } = this;
    const w = this.weight.value.data as Float32Array;
    const out = new Float32Array(batch.rows * v);
    for (let r = 0; r < batch.rows; r++)
      for (let c = 0; c < v; c++) {
        let s = 0;
        for (let i = 0; i < f; i++) s += batch.x[r * f + i]! * w[i * v + c]!;
        out[r * v + c] = s;
      }
    this.#lastX = batch.x;
    this.#lastRows = batch.rows;
    return host(out, [batch.rows, v]);
  }

  async backward(gradLogits: HostTensor): Promise<void> {
    const { features: f, vocabSize: v } = this;
    const g = this.weight.grad.data as Float32Array;
    const dy = gradLogits.data as Float32Array;
    for (let r = 0; r < this.#lastRows; r++)
      for (let i = 0; i < f; i++) for (let c = 0; c < v; c++) g[i * v + c]! += this.#lastX![r * f + i]! * dy[r * v + c]!;
  }

  parameters() {
    return [this.weight];
  }

  zeroGrad() {
    (this.weight.grad.data as Float32Array).fill(0);
  }

  async saveState(): Promise<ModelState> {
    return {
      config: { features: this.features, vocabSize: this.vocabSize },
      tensors: { w: { ...this.weight.value, data: (this.weight.value.data as Float32Array).slice() } },
    };
  }

  async loadState(state: ModelState): Promise<void> {
    (this.weight.value.data as Float32Array).set(state.tensors.w!.data as Float32Array);
  }
}

function logSoftmax(z: ArrayLike<number>, offset: number, n: number, t: number): number[] {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, z[offset + i]! / t);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(z[offset + i]! / t - max);
  const lse = max + Math.log(sum);
  return Array.from({ length: n }, (_, i) => z[offset + i]! / t - lse);
}

/** Hinton KD on the CPU: softWeight·T²·KL(p_T‖p_S) + hardWeight·CE, mean over rows. */
export class CpuKdLoss implements Loss<HostTensor> {
  readonly name = 'cpu-kd';
  readonly hyperDefaults = { temperature: 1, softWeight: 1, hardWeight: 0 };

  async compute({ studentLogits, targets, labels, hyper }: Parameters<Loss<HostTensor>['compute']>[0]): Promise<LossOutput<HostTensor>> {
    const [rows, v] = studentLogits.shape as [number, number];
    const t = hyper.temperature ?? 1;
    const ws = hyper.softWeight ?? 1;
    const wh = hyper.hardWeight ?? 0;
    const s = studentLogits.data as Float32Array;
    const grad = new Float32Array(rows * v);
    const soft = new Float32Array(rows);
    const hard = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const ls = logSoftmax(s, r * v, v, t);
      if (targets?.kind === 'dense') {
        const lt = logSoftmax(targets.logits.data as Float32Array, r * v, v, t);
        for (let c = 0; c < v; c++) {
          const pt = Math.exp(lt[c]!);
          soft[r]! += pt * (lt[c]! - ls[c]!);
          grad[r * v + c]! += (ws * t * (Math.exp(ls[c]!) - pt)) / rows;
        }
        soft[r]! *= ws * t * t;
      }
      if (labels && wh > 0) {
        const y = (labels.data as Int32Array)[r]!;
        const l1 = logSoftmax(s, r * v, v, 1);
        hard[r] = -wh * l1[y]!;
        for (let c = 0; c < v; c++) grad[r * v + c]! += (wh * (Math.exp(l1[c]!) - (c === y ? 1 : 0))) / rows;
      }
    }
    const mean = (a: Float32Array) => async () => a.reduce((x, y) => x + y, 0) / rows;
    return {
      total: async () => (await mean(soft)()) + (await mean(hard)()),
      terms: { soft: { perRow: host(soft, [rows]), reduced: mean(soft) }, hard: { perRow: host(hard, [rows]), reduced: mean(hard) } },
      gradLogits: host(grad, [rows, v]),
      rows: async () => rows,
    };
  }
}

export class CpuSgd implements Optimizer<HostTensor> {
  readonly name = 'sgd';
  #step = 0;

  async step(parameters: readonly Parameter<HostTensor>[], lr: number): Promise<void> {
    for (const p of parameters) {
      const w = p.value.data as Float32Array;
      const g = p.grad.data as Float32Array;
      for (let i = 0; i < w.length; i++) w[i]! -= lr * g[i]!;
    }
    this.#step++;
  }

  async saveState(): Promise<OptimizerState> {
    return { step: this.#step, config: {}, tensors: {} };
  }

  async loadState(state: OptimizerState): Promise<void> {
    this.#step = state.step;
  }
}

/** Gaussian blobs, one per class; shuffled per epoch from a seed so order is reproducible. */
export function blobData(rows: number, features: number, classes: number, batchSize: number, seed: number): DataSource<CpuBatch> {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => rng.normal() * 2));
  const x = new Float32Array(rows * features);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = r % classes;
    for (let i = 0; i < features; i++) x[r * features + i] = centres[y[r]!]![i]! + rng.normal();
  }
  return {
    batchesPerEpoch: Math.ceil(rows / batchSize),
    async batch(epoch, index) {
      const order = new Rng(deriveSeed(seed, `epoch-${epoch}`)).permutation(rows);
      const ids = order.subarray(index * batchSize, Math.min(rows, (index + 1) * batchSize));
      const bx = new Float32Array(ids.length * features);
      const by = new Int32Array(ids.length);
      ids.forEach((id, j) => {
        bx.set(x.subarray(id * features, (id + 1) * features), j * features);
        by[j] = y[id]!;
      });
      return { x: bx, labels: host(by, [ids.length]), rows: ids.length };
    },
  };
}

/** A teacher that is itself a (pre-trained) CpuLinearStudent. */
export function teacherFrom(model: CpuLinearStudent): WhiteBoxTeacher<CpuBatch, HostTensor> {
  return {
    kind: 'white-box',
    name: 'cpu-teacher',
    vocabSize: model.vocabSize,
    targets: async (b) => ({ kind: 'dense', logits: await model.forward(b) }),
  };
}
