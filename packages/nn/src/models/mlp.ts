import {
  DistilleryError,
  deriveSeed,
  parseConfig,
  shapeMismatch,
  type BackwardOptions,
  type ModelState,
  type Parameter,
  type Student,
} from '@distillery/core';
import { CommandRecorder, createTensor, readFloat32, type GpuTensor } from '@distillery/webgpu';
import * as z from 'zod/mini';
import { requireDtype } from '../checks.js';
import { recordActivationBackward } from '../kernels/activation/activation.js';
import { recordAddInPlace } from '../kernels/add/add.js';
import { recordBiasGrad } from '../kernels/bias-grad/bias-grad.js';
import { recordJitter } from '../kernels/jitter/jitter.js';
import { recordMatmul, type DropoutSpec } from '../kernels/matmul/matmul.js';
import { pickHiddenStates, requireHiddenGradients } from './hidden-states.js';
import { ModeCaches, stateConfig } from './model-lifecycle.js';
import { ParameterSet } from './parameters.js';
import { argmaxRow } from '../logits.js';

const positiveInt = z.number().check(z.int(), z.positive());

export const mlpConfigSchema = z.strictObject({
  inputSize: positiveInt,
  /** Widths of the hidden layers, input side first; [] makes a linear (softmax-regression) model. */
  hidden: z.array(positiveInt),
  classes: positiveInt,
  activation: z._default(z.enum(['relu', 'gelu']), 'relu'),
  /** Dropout probability after every hidden activation (training only). */
  dropout: z._default(z.number().check(z.gte(0), z.lt(1)), 0),
  /** Standard deviation of Gaussian noise added to the inputs (training only). */
  inputJitter: z._default(z.number().check(z.gte(0)), 0),
  seed: z._default(z.number().check(z.int(), z.gte(0), z.lte(0xffffffff)), 0),
  /** Training forwards done so far: the dropout/jitter stream position, saved so resume is exact. */
  rngStep: z._default(z.number().check(z.int(), z.gte(0), z.lte(0xffffffff)), 0),
});

export type MlpConfig = z.input<typeof mlpConfigSchema>;
export type MlpSettings = z.output<typeof mlpConfigSchema>;

export const MLP_KIND = 'mlp-classifier';

/** One batch: `inputs [rows, inputSize]` f32, optional `labels [rows]` i32 (read by the loss, not the model). */
export interface MlpBatch {
  inputs: GpuTensor;
  labels?: GpuTensor;
  rows: number;
}

interface Layer {
  weight: Parameter<GpuTensor>;
  bias: Parameter<GpuTensor>;
  inputs: number;
  outputs: number;
}

interface ForwardCache {
  rows: number;
  /** The (jittered) input, when the model owns it. */
  ownedInput?: GpuTensor;
  input: GpuTensor;
  /** Output of each hidden layer (after activation and dropout). */
  hidden: GpuTensor[];
  /** Pre-activations of each hidden layer (GELU only). */
  pre: GpuTensor[];
  logits: GpuTensor;
  dropout: (DropoutSpec | undefined)[];
}

function releaseCache(cache: ForwardCache): void {
  cache.ownedInput?.release();
  for (const t of [...cache.hidden, ...cache.pre, cache.logits]) t.release();
}

/**
 * A multi-layer perceptron classifier: Linear → act → dropout, ..., Linear → logits.
 * Weights are stored as PyTorch's `nn.Linear` does (`layers.{i}.weight [out, in]`,
 * `layers.{i}.bias [out]`), so a safetensors checkpoint loads into an equivalent torch model.
 *
 * Each hidden layer's forward is one fused kernel (matmul + bias + activation + dropout); the
 * whole forward, and the whole backward, are one GPU submission each. Tensors returned by
 * `forward` belong to the model and stay valid until the next forward of the same mode.
 *
 * Hidden states (for feature matching): `hidden.{i}` is hidden layer i's output after its
 * activation — and, in training, after dropout, exactly what the next layer reads — `[rows, hidden[i]]`.
 */
export class MlpClassifier implements Student<MlpBatch, GpuTensor> {
  readonly name = MLP_KIND;
  readonly vocabSize: number;
  #settings: MlpSettings;
  readonly #params: ParameterSet;
  readonly #layers: Layer[] = [];
  #rngStep: number;
  readonly #caches = new ModeCaches<ForwardCache>(releaseCache);

  private constructor(
    readonly device: GPUDevice,
    settings: MlpSettings,
  ) {
    this.#settings = settings;
    this.vocabSize = settings.classes;
    this.#rngStep = settings.rngStep;
    this.#params = new ParameterSet(device, settings.seed);
    const widths = [settings.inputSize, ...settings.hidden, settings.classes];
    for (let i = 0; i + 1 < widths.length; i++) {
      const inputs = widths[i]!;
      const outputs = widths[i + 1]!;
      const last = i + 2 === widths.length;
      // He-uniform for layers followed by ReLU/GELU, LeCun-uniform for the logits layer; zero biases.
      const bound = Math.sqrt((last ? 3 : 6) / inputs);
      this.#layers.push({
        weight: this.#params.add(`layers.${i}.weight`, [outputs, inputs], { kind: 'uniform', bound }),
        bias: this.#params.add(`layers.${i}.bias`, [outputs], { kind: 'constant', value: 0 }),
        inputs,
        outputs,
      });
    }
  }

  /** A freshly initialised model; the same config (seed included) always gives the same weights. */
  static create(device: GPUDevice, config: MlpConfig): MlpClassifier {
    return new MlpClassifier(device, parseConfig(mlpConfigSchema, config, 'mlp'));
  }

  /** A model rebuilt from `saveState()`'s output. */
  static async fromState(device: GPUDevice, state: ModelState): Promise<MlpClassifier> {
    const model = MlpClassifier.create(device, stateConfig(state, MLP_KIND) as MlpConfig);
    await model.loadState(state);
    return model;
  }

  /** The configuration in force (after `loadState`, the loaded one). */
  get settings(): MlpSettings {
    return this.#settings;
  }

  get config(): MlpSettings & { kind: string } {
    return { kind: MLP_KIND, ...this.settings, rngStep: this.#rngStep };
  }

  parameters(): readonly Parameter<GpuTensor>[] {
    return this.#params.list;
  }

  get parameterCount(): number {
    return this.#params.count;
  }

  zeroGrad(): void {
    this.#params.zeroGrad();
  }

  /** `hidden.0`, `hidden.1`, …: one per hidden layer, input side first, with its width. */
  hiddenStateWidths(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.settings.hidden.map((width, i) => [`hidden.${i}`, width]));
  }

  /** The named hidden states of the last forward of that mode (owned by the model, valid until its next forward of that mode). */
  hiddenStates(names: readonly string[], { training }: { training: boolean }): Record<string, GpuTensor> {
    const cache = this.#caches.get(training);
    return pickHiddenStates(
      MLP_KIND,
      names,
      this.hiddenStateWidths(),
      cache && ((name) => cache.hidden[Number(name.slice('hidden.'.length))]!),
      training,
    );
  }

  #checkBatch(batch: MlpBatch): void {
    const { inputs, rows } = batch;
    requireDtype(inputs);
    if (inputs.device !== this.device)
      throw new DistilleryError('E_BAD_VALUE', `${inputs.label} lives on another GPU device than the model`, { field: 'inputs' });
    if (!(Number.isInteger(rows) && rows >= 1)) throw shapeMismatch('batch.rows', [rows], 'a positive integer');
    if (inputs.shape.length !== 2 || inputs.shape[0] !== rows || inputs.shape[1] !== this.settings.inputSize) {
      throw shapeMismatch(inputs.label, inputs.shape, `[${rows}, ${this.settings.inputSize}] (rows, inputSize)`);
    }
  }

  async forward(batch: MlpBatch, { training }: { training: boolean }): Promise<GpuTensor> {
    this.#checkBatch(batch);
    const { rows } = batch;
    const s = this.settings;
    const recorder = new CommandRecorder(this.device, `${MLP_KIND}-forward`);
    const step = this.#rngStep;
    const cache: ForwardCache = { rows, input: batch.inputs, hidden: [], pre: [], logits: undefined as unknown as GpuTensor, dropout: [] };
    if (training && s.inputJitter > 0) {
      cache.ownedInput = createTensor(this.device, { shape: [rows, s.inputSize], dtype: 'f32', label: 'jittered-input' });
      recordJitter(recorder, batch.inputs, cache.ownedInput, { std: s.inputJitter, seed: deriveSeed(s.seed, 'jitter'), step });
      cache.input = cache.ownedInput;
    }
    let x = cache.input;
    this.#layers.forEach((layer, i) => {
      const last = i + 1 === this.#layers.length;
      const out = createTensor(this.device, { shape: [rows, layer.outputs], dtype: 'f32', label: last ? 'logits' : `hidden.${i}` });
      if (last) {
        recordMatmul(recorder, x, layer.weight.value, out, { transB: true, bias: layer.bias.value });
        cache.logits = out;
        return;
      }
      const dropout = training && s.dropout > 0 ? { p: s.dropout, seed: deriveSeed(s.seed, `dropout/${i}`), step } : undefined;
      // GELU's backward needs the pre-activation; ReLU's can use the output itself.
      const pre =
        training && s.activation === 'gelu'
          ? createTensor(this.device, { shape: [rows, layer.outputs], dtype: 'f32', label: `pre.${i}` })
          : undefined;
      recordMatmul(recorder, x, layer.weight.value, out, { transB: true, bias: layer.bias.value, activation: s.activation, dropout, pre });
      cache.hidden.push(out);
      if (pre) cache.pre.push(pre);
      cache.dropout.push(dropout);
      x = out;
    });
    await recorder.submit();
    this.#caches.set(training, cache);
    if (training) this.#rngStep = (this.#rngStep + 1) >>> 0;
    return cache.logits;
  }

  /**
   * Accumulates parameter gradients for the last training forward, given dLoss/dLogits
   * `[rows, classes]`: dW += dZᵀ·X (TN matmul), db += Σrows dZ, dX = dZ·W (NN) then the
   * activation/dropout backward — one submission. `options.hidden['hidden.{i}']` adds a gradient
   * w.r.t. that layer's output to dX before its activation/dropout backward.
   */
  async backward(gradLogits: GpuTensor, options: BackwardOptions<GpuTensor> = {}): Promise<void> {
    const cache = this.#caches.requireTraining(MLP_KIND, 'gradLogits');
    requireDtype(gradLogits);
    if (gradLogits.shape.length !== 2 || gradLogits.shape[0] !== cache.rows || gradLogits.shape[1] !== this.settings.classes) {
      throw shapeMismatch(
        gradLogits.label,
        gradLogits.shape,
        `[${cache.rows}, ${this.settings.classes}] like the last training forward's logits`,
      );
    }
    const extra = requireHiddenGradients(MLP_KIND, options.hidden, this.hiddenStateWidths(), cache.rows);
    const recorder = new CommandRecorder(this.device, `${MLP_KIND}-backward`);
    const temporaries: GpuTensor[] = [];
    let dz = gradLogits;
    for (let i = this.#layers.length - 1; i >= 0; i--) {
      const layer = this.#layers[i]!;
      const x = i === 0 ? cache.input : cache.hidden[i - 1]!;
      recordMatmul(recorder, dz, x, layer.weight.grad, { transA: true, accumulate: true });
      recordBiasGrad(recorder, dz, layer.bias.grad, { accumulate: true });
      if (i === 0) break;
      const dh = createTensor(this.device, { shape: [cache.rows, layer.inputs], dtype: 'f32', label: `d.hidden.${i - 1}` });
      recordMatmul(recorder, dz, layer.weight.value, dh);
      const hiddenGrad = extra[`hidden.${i - 1}`];
      if (hiddenGrad) recordAddInPlace(recorder, hiddenGrad, dh);
      const dzPrev = createTensor(this.device, { shape: [cache.rows, layer.inputs], dtype: 'f32', label: `d.pre.${i - 1}` });
      const saved = this.settings.activation === 'gelu' ? cache.pre[i - 1]! : cache.hidden[i - 1]!;
      recordActivationBackward(recorder, dh, saved, dzPrev, this.settings.activation, cache.dropout[i - 1]);
      temporaries.push(dh, dzPrev);
      dz = dzPrev;
    }
    await recorder.submit();
    // Queue order makes the buffers safe to reuse by later submissions.
    for (const t of temporaries) t.release();
  }

  /** Class indices of the eval-mode argmax, read back. */
  async predict(inputs: GpuTensor): Promise<Int32Array> {
    const rows = inputs.shape[0] ?? 0;
    // GPU max(0, NaN) may be 0, so NaN inputs can come out as ordinary logits: check the inputs
    // themselves (predict is evaluation, one readback more is cheap next to the one it does anyway).
    const host = await readFloat32(inputs);
    const width = rows > 0 ? host.length / rows : 0;
    const bad = host.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      const row = Math.floor(bad / width);
      throw new DistilleryError(
        'E_NON_FINITE',
        `${inputs.label} row ${row} contains ${host[bad]} (column ${bad % width}); no class can be predicted`,
        { field: inputs.label, row, column: bad % width },
      );
    }
    const logits = await readFloat32(await this.forward({ inputs, rows }, { training: false }));
    const classes = this.settings.classes;
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      // NaN logits come from NaN/Inf inputs (or diverged weights): an argmax over them is "class 0", a silent lie.
      for (let c = 0; c < classes; c++) {
        if (Number.isNaN(logits[r * classes + c]!)) {
          throw new DistilleryError(
            'E_NON_FINITE',
            `${inputs.label} row ${r}: the model's outputs are NaN (non-finite inputs or weights); no class can be predicted`,
            { field: inputs.label, row: r },
          );
        }
      }
      out[r] = argmaxRow(logits, r * classes, classes);
    }
    return out;
  }

  async saveState(): Promise<ModelState> {
    return { config: this.config, tensors: await this.#params.toHost() };
  }

  async loadState(state: ModelState): Promise<void> {
    const other = parseConfig(mlpConfigSchema, stateConfig(state, MLP_KIND), 'state.config');
    const s = this.settings;
    if (other.inputSize !== s.inputSize || other.classes !== s.classes || other.hidden.join(',') !== s.hidden.join(',')) {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `model state is a ${other.inputSize}-${[...other.hidden, other.classes].join('-')} MLP, this model is ${s.inputSize}-${[...s.hidden, s.classes].join('-')}`,
        { field: 'config' },
      );
    }
    this.#params.fromHost(state.tensors, 'model state');
    // Seed, activation, dropout and jitter come with the state: they shape the function and its noise streams.
    this.#settings = other;
    this.#rngStep = other.rngStep;
    this.#caches.clearTraining();
  }

  /** Frees every GPU buffer the model holds. */
  release(): void {
    this.#caches.clear();
    this.#params.release();
  }
}
