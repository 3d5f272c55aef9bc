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
import { CommandRecorder, createTensor, type GpuTensor } from '@distillery/webgpu';
import * as z from 'zod/mini';
import { requireDtype } from '../checks.js';
import { recordActivationBackward } from '../kernels/activation/activation.js';
import { recordAdd, recordAddInPlace } from '../kernels/add/add.js';
import { recordAttention, recordAttentionBackward, releaseAttention, type AttentionSaved } from '../kernels/attention/attention.js';
import { recordBiasGrad } from '../kernels/bias-grad/bias-grad.js';
import { recordEmbedding, recordEmbeddingBackward, recordPositionGrad } from '../kernels/embedding/embedding.js';
import { recordLayerNorm, recordLayerNormBackward } from '../kernels/layer-norm/layer-norm.js';
import { recordMatmul, type DropoutSpec } from '../kernels/matmul/matmul.js';
import { tokenizerFromConfig, type Tokenizer } from '../tokenizer.js';
import { pickHiddenStates, requireHiddenGradients } from './hidden-states.js';
import { ModeCaches, requireTokenWindow, stateConfig } from './model-lifecycle.js';
import { ParameterSet } from './parameters.js';
import { sampleTokens } from '../sampling.js';

const positiveInt = z.number().check(z.int(), z.positive());

export const transformerConfigSchema = z
  .strictObject({
    /** Built-in tokenizer: UTF-8 bytes (vocabulary 256) or the characters of a corpus. */
    tokenizer: z.union([
      z.strictObject({ kind: z.literal('byte') }),
      z.strictObject({ kind: z.literal('char'), chars: z.array(z.string()).check(z.minLength(1)) }),
    ]),
    /** Sequence length the model sees (learned absolute positions). */
    context: positiveInt,
    /** Model width d_model. */
    width: positiveInt,
    layers: positiveInt,
    heads: positiveInt,
    /** Hidden width of each MLP as a multiple of `width`. */
    mlpRatio: z._default(positiveInt, 4),
    /** Dropout on each residual branch's output (training only). */
    dropout: z._default(z.number().check(z.gte(0), z.lt(1)), 0),
    seed: z._default(z.number().check(z.int(), z.gte(0), z.lte(0xffffffff)), 0),
    rngStep: z._default(z.number().check(z.int(), z.gte(0), z.lte(0xffffffff)), 0),
  })
  .check(z.refine((c) => c.width % c.heads === 0, { message: 'width must be a multiple of heads', path: ['heads'] }));

export type TransformerConfig = z.input<typeof transformerConfigSchema>;
export type TransformerSettings = z.output<typeof transformerConfigSchema>;

export const TRANSFORMER_KIND = 'transformer-lm';

/**
 * `sequences` rows of `context` tokens each: `tokens [sequences·context]` i32; `labels`, when
 * given, are the next tokens (for the loss; the model does not read them).
 */
export interface LmBatch {
  tokens: GpuTensor;
  labels?: GpuTensor;
  sequences: number;
}

interface Block {
  ln1: { gamma: Parameter<GpuTensor>; beta: Parameter<GpuTensor> };
  qkv: { weight: Parameter<GpuTensor>; bias: Parameter<GpuTensor> };
  proj: { weight: Parameter<GpuTensor>; bias: Parameter<GpuTensor> };
  ln2: { gamma: Parameter<GpuTensor>; beta: Parameter<GpuTensor> };
  fc: { weight: Parameter<GpuTensor>; bias: Parameter<GpuTensor> };
  out: { weight: Parameter<GpuTensor>; bias: Parameter<GpuTensor> };
}

interface BlockCache {
  x: GpuTensor;
  h1: GpuTensor;
  stats1: GpuTensor;
  qkv: GpuTensor;
  attention: AttentionSaved;
  a: GpuTensor;
  x1: GpuTensor;
  h2: GpuTensor;
  stats2: GpuTensor;
  pre: GpuTensor;
  f: GpuTensor;
  dropAttn?: DropoutSpec;
  dropMlp?: DropoutSpec;
}

interface Cache {
  sequences: number;
  tokens: GpuTensor;
  blocks: BlockCache[];
  xf: GpuTensor;
  hf: GpuTensor;
  statsf: GpuTensor;
  /** Absent after `forwardHidden`: the LM head was not applied. */
  logits?: GpuTensor;
}

function releaseCache(cache: Cache): void {
  for (const b of cache.blocks) {
    for (const t of [b.x, b.h1, b.stats1, b.qkv, b.a, b.x1, b.h2, b.stats2, b.pre, b.f]) t.release();
    releaseAttention(b.attention);
  }
  for (const t of [cache.xf, cache.hf, cache.statsf]) t.release();
  cache.logits?.release();
}

/**
 * A small decoder-only (GPT-2-style, pre-LayerNorm) transformer language model: token + learned
 * position embeddings, `layers` blocks of [LN → causal multi-head attention → residual, LN →
 * Linear → GELU → Linear → residual], a final LN and an untied LM head. `forward` returns next-token
 * logits `[sequences·context, vocab]` for every position.
 *
 * Hidden states (for feature matching), each `[sequences·context, width]`: `blocks.{l}` is the
 * residual stream after block l (the next block's input), `ln_f` the final layer norm's output
 * (what the LM head reads).
 *
 * For a loss that applies the LM head itself, chunk by chunk (white-box's fused linear + KD loss),
 * `forwardHidden` stops at `ln_f` so no `[rows, vocab]` logits are allocated, `headWeight` is the
 * head it must apply, and `backwardFromHidden` starts from d ln_f.
 */
export class TransformerLm implements Student<LmBatch, GpuTensor> {
  readonly name = TRANSFORMER_KIND;
  readonly vocabSize: number;
  readonly tokenizer: Tokenizer;
  #settings: TransformerSettings;
  readonly #params: ParameterSet;
  readonly #tok: Parameter<GpuTensor>;
  readonly #pos: Parameter<GpuTensor>;
  readonly #blocks: Block[] = [];
  readonly #lnf: { gamma: Parameter<GpuTensor>; beta: Parameter<GpuTensor> };
  readonly #head: Parameter<GpuTensor>;
  #rngStep: number;
  readonly #caches = new ModeCaches<Cache>(releaseCache);

  private constructor(
    readonly device: GPUDevice,
    settings: TransformerSettings,
  ) {
    this.#settings = settings;
    this.tokenizer = tokenizerFromConfig(settings.tokenizer);
    this.vocabSize = this.tokenizer.vocabSize;
    this.#rngStep = settings.rngStep;
    const { width: D, context: T, layers: L, mlpRatio } = settings;
    const V = this.vocabSize;
    const p = (this.#params = new ParameterSet(device, settings.seed));
    // GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/√(2L), zero biases, unit LN gains.
    const std = 0.02;
    const residualStd = std / Math.sqrt(2 * L);
    const ln = (name: string) => ({
      gamma: p.add(`${name}.weight`, [D], { kind: 'constant', value: 1 }),
      beta: p.add(`${name}.bias`, [D], { kind: 'constant', value: 0 }),
    });
    const linear = (name: string, out: number, inp: number, s = std) => ({
      weight: p.add(`${name}.weight`, [out, inp], { kind: 'normal', std: s }),
      bias: p.add(`${name}.bias`, [out], { kind: 'constant', value: 0 }),
    });
    this.#tok = p.add('tok_emb.weight', [V, D], { kind: 'normal', std });
    this.#pos = p.add('pos_emb.weight', [T, D], { kind: 'normal', std });
    for (let l = 0; l < L; l++) {
      this.#blocks.push({
        ln1: ln(`blocks.${l}.ln1`),
        qkv: linear(`blocks.${l}.attn.qkv`, 3 * D, D),
        proj: linear(`blocks.${l}.attn.proj`, D, D, residualStd),
        ln2: ln(`blocks.${l}.ln2`),
        fc: linear(`blocks.${l}.mlp.fc`, mlpRatio * D, D),
        out: linear(`blocks.${l}.mlp.proj`, D, mlpRatio * D, residualStd),
      });
    }
    this.#lnf = ln('ln_f');
    this.#head = p.add('head.weight', [V, D], { kind: 'normal', std });
  }

  static create(device: GPUDevice, config: TransformerConfig): TransformerLm {
    return new TransformerLm(device, parseConfig(transformerConfigSchema, config, 'transformer'));
  }

  static async fromState(device: GPUDevice, state: ModelState): Promise<TransformerLm> {
    const model = TransformerLm.create(device, stateConfig(state, TRANSFORMER_KIND) as TransformerConfig);
    await model.loadState(state);
    return model;
  }

  get settings(): TransformerSettings {
    return this.#settings;
  }

  get config(): TransformerSettings & { kind: string } {
    return { kind: TRANSFORMER_KIND, ...this.#settings, rngStep: this.#rngStep };
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

  /** `blocks.0` … `blocks.{layers−1}` then `ln_f`, all of width `width`. */
  hiddenStateWidths(): Readonly<Record<string, number>> {
    const { layers, width } = this.#settings;
    const widths: Record<string, number> = {};
    for (let l = 0; l < layers; l++) widths[`blocks.${l}`] = width;
    widths.ln_f = width;
    return widths;
  }

  /** The named hidden states of the last forward of that mode (owned by the model, valid until its next forward of that mode). */
  hiddenStates(names: readonly string[], { training }: { training: boolean }): Record<string, GpuTensor> {
    const cache = this.#caches.get(training);
    const lookup = (name: string): GpuTensor => {
      if (name === 'ln_f') return cache!.hf;
      const next = Number(name.slice('blocks.'.length)) + 1;
      return next < cache!.blocks.length ? cache!.blocks[next]!.x : cache!.xf;
    };
    return pickHiddenStates(TRANSFORMER_KIND, names, this.hiddenStateWidths(), cache && lookup, training);
  }

  #shape(sequences: number) {
    const { context, heads, width } = this.#settings;
    return { batch: sequences, context, heads, headDim: width / heads };
  }

  /** The LM head `head.weight` `[vocab, width]` (logits = ln_f · Wᵀ, no bias). */
  get headWeight(): Parameter<GpuTensor> {
    return this.#head;
  }

  async forward(batch: LmBatch, { training }: { training: boolean }): Promise<GpuTensor> {
    return (await this.#forward(batch, training, true)).logits!;
  }

  /**
   * The same forward up to the final layer norm: returns `ln_f` `[sequences·context, width]`
   * (owned by the model, valid until its next forward of that mode) without applying the LM head.
   * A training call is what `backwardFromHidden` differentiates (and advances the dropout stream
   * like `forward`).
   */
  async forwardHidden(batch: LmBatch, { training }: { training: boolean }): Promise<GpuTensor> {
    return (await this.#forward(batch, training, false)).hf;
  }

  async #forward(batch: LmBatch, training: boolean, head: boolean): Promise<Cache> {
    const { tokens, sequences } = batch;
    const { context: T, width: D, mlpRatio } = this.#settings;
    const R = requireTokenWindow(tokens, sequences, T);
    const s = this.#settings;
    const make = (label: string, shape: number[]) => createTensor(this.device, { shape, dtype: 'f32', label });
    const recorder = new CommandRecorder(this.device, `${TRANSFORMER_KIND}-forward`);
    const step = this.#rngStep;
    const drop = (name: string): DropoutSpec | undefined =>
      training && s.dropout > 0 ? { p: s.dropout, seed: deriveSeed(s.seed, name), step } : undefined;
    let x = make('x.0', [R, D]);
    recordEmbedding(recorder, tokens, this.#tok.value, x, { table: this.#pos.value });
    const blocks: BlockCache[] = [];
    this.#blocks.forEach((block, l) => {
      const h1 = make(`h1.${l}`, [R, D]);
      const stats1 = make(`stats1.${l}`, [R, 2]);
      recordLayerNorm(recorder, x, block.ln1.gamma.value, block.ln1.beta.value, h1, stats1);
      const qkv = make(`qkv.${l}`, [R, 3 * D]);
      recordMatmul(recorder, h1, block.qkv.weight.value, qkv, { transB: true, bias: block.qkv.bias.value });
      const a = make(`attn.${l}`, [R, D]);
      const attention = recordAttention(recorder, qkv, a, this.#shape(sequences));
      const y = make(`attn-out.${l}`, [R, D]);
      const dropAttn = drop(`dropout/${l}/attn`);
      recordMatmul(recorder, a, block.proj.weight.value, y, { transB: true, bias: block.proj.bias.value, dropout: dropAttn });
      const x1 = make(`x1.${l}`, [R, D]);
      recordAdd(recorder, x, y, x1);
      y.release();
      const h2 = make(`h2.${l}`, [R, D]);
      const stats2 = make(`stats2.${l}`, [R, 2]);
      recordLayerNorm(recorder, x1, block.ln2.gamma.value, block.ln2.beta.value, h2, stats2);
      const pre = make(`fc-pre.${l}`, [R, mlpRatio * D]);
      const f = make(`fc.${l}`, [R, mlpRatio * D]);
      recordMatmul(recorder, h2, block.fc.weight.value, f, { transB: true, bias: block.fc.bias.value, activation: 'gelu', pre });
      const g = make(`mlp-out.${l}`, [R, D]);
      const dropMlp = drop(`dropout/${l}/mlp`);
      recordMatmul(recorder, f, block.out.weight.value, g, { transB: true, bias: block.out.bias.value, dropout: dropMlp });
      const x2 = make(`x.${l + 1}`, [R, D]);
      recordAdd(recorder, x1, g, x2);
      g.release();
      blocks.push({ x, h1, stats1, qkv, attention, a, x1, h2, stats2, pre, f, dropAttn, dropMlp });
      x = x2;
    });
    const hf = make('hf', [R, D]);
    const statsf = make('stats-f', [R, 2]);
    recordLayerNorm(recorder, x, this.#lnf.gamma.value, this.#lnf.beta.value, hf, statsf);
    let logits: GpuTensor | undefined;
    if (head) {
      logits = make('logits', [R, this.vocabSize]);
      recordMatmul(recorder, hf, this.#head.value, logits, { transB: true });
    }
    await recorder.submit();
    const cache: Cache = { sequences, tokens, blocks, xf: x, hf, statsf, logits };
    this.#caches.set(training, cache);
    if (training) this.#rngStep = (this.#rngStep + 1) >>> 0;
    return cache;
  }

  /**
   * Accumulates parameter gradients for the last training forward. `options.hidden` adds
   * gradients w.r.t. hidden states: `ln_f`'s before the final layer norm's backward, `blocks.{l}`'s
   * to the residual-stream gradient where block l's output enters the backward pass.
   */
  async backward(gradLogits: GpuTensor, options: BackwardOptions<GpuTensor> = {}): Promise<void> {
    const cache = this.#requireTrainCache('gradLogits');
    const R = cache.sequences * this.#settings.context;
    requireDtype(gradLogits);
    if (gradLogits.shape.length !== 2 || gradLogits.shape[0] !== R || gradLogits.shape[1] !== this.vocabSize) {
      throw shapeMismatch(gradLogits.label, gradLogits.shape, `[${R}, ${this.vocabSize}] like the last training forward's logits`);
    }
    const extra = requireHiddenGradients(TRANSFORMER_KIND, options.hidden, this.hiddenStateWidths(), R);
    await this.#backward(cache, extra, (make, linearBackward) => {
      const dhf = make('d.hf', [R, this.#settings.width]);
      linearBackward(gradLogits, cache.hf, this.#head, undefined, dhf);
      return dhf;
    });
  }

  /**
   * The backward of `forwardHidden`: accumulates the gradients of every parameter but the LM head
   * from d loss / d ln_f `[rows, width]` (the caller owns the head's gradient: it applied the head).
   * `options.hidden` as in `backward`; an `ln_f` entry there is added to `gradHidden`.
   */
  async backwardFromHidden(gradHidden: GpuTensor, options: BackwardOptions<GpuTensor> = {}): Promise<void> {
    const cache = this.#requireTrainCache('gradHidden');
    const { width: D, context } = this.#settings;
    const R = cache.sequences * context;
    requireDtype(gradHidden);
    if (gradHidden.shape.length !== 2 || gradHidden.shape[0] !== R || gradHidden.shape[1] !== D) {
      throw shapeMismatch(gradHidden.label, gradHidden.shape, `[${R}, ${D}] like the last training forward's ln_f`);
    }
    const extra = requireHiddenGradients(TRANSFORMER_KIND, options.hidden, this.hiddenStateWidths(), R);
    await this.#backward(cache, extra, () => gradHidden);
  }

  #requireTrainCache(field: string): Cache {
    return this.#caches.requireTraining(TRANSFORMER_KIND, field);
  }

  /** The backward from d ln_f down to the embeddings, shared by both entry points; `start` records d ln_f. */
  async #backward(
    cache: Cache,
    extra: Readonly<Record<string, GpuTensor>>,
    start: (
      make: (label: string, shape: number[]) => GpuTensor,
      linearBackward: (
        dy: GpuTensor,
        input: GpuTensor,
        weight: Parameter<GpuTensor>,
        bias: Parameter<GpuTensor> | undefined,
        dx: GpuTensor | undefined,
      ) => void,
    ) => GpuTensor,
  ): Promise<void> {
    const { width: D, mlpRatio } = this.#settings;
    const R = cache.sequences * this.#settings.context;
    const recorder = new CommandRecorder(this.device, `${TRANSFORMER_KIND}-backward`);
    const temporaries: GpuTensor[] = [];
    const make = (label: string, shape: number[]) => {
      const t = createTensor(this.device, { shape, dtype: 'f32', label });
      temporaries.push(t);
      return t;
    };
    const linearBackward = (
      dy: GpuTensor,
      input: GpuTensor,
      weight: Parameter<GpuTensor>,
      bias: Parameter<GpuTensor> | undefined,
      dx: GpuTensor | undefined,
    ) => {
      recordMatmul(recorder, dy, input, weight.grad, { transA: true, accumulate: true });
      if (bias) recordBiasGrad(recorder, dy, bias.grad, { accumulate: true });
      if (dx) recordMatmul(recorder, dy, weight.value, dx);
    };
    let dhf = start(make, linearBackward);
    if (extra.ln_f) {
      if (temporaries.includes(dhf)) recordAddInPlace(recorder, extra.ln_f, dhf);
      else {
        // The caller's d ln_f is an input: sum into a temporary rather than write into it.
        const sum = make('d.hf', [R, D]);
        recordAdd(recorder, dhf, extra.ln_f, sum);
        dhf = sum;
      }
    }
    let dx = make('d.xf', [R, D]);
    recordLayerNormBackward(recorder, dhf, cache.xf, this.#lnf.gamma.value, cache.statsf, dx, this.#lnf.gamma.grad, this.#lnf.beta.grad);
    for (let l = this.#blocks.length - 1; l >= 0; l--) {
      const block = this.#blocks[l]!;
      const c = cache.blocks[l]!;
      const blockGrad = extra[`blocks.${l}`];
      if (blockGrad) recordAddInPlace(recorder, blockGrad, dx);
      // MLP branch: x2 = x1 + drop(f·Woutᵀ + b), f = gelu(h2·Wfcᵀ + b), h2 = LN2(x1).
      let dg = dx;
      if (c.dropMlp) {
        dg = make(`d.mlp-out.${l}`, [R, D]);
        recordActivationBackward(recorder, dx, dx, dg, 'none', c.dropMlp);
      }
      const df = make(`d.fc.${l}`, [R, mlpRatio * D]);
      linearBackward(dg, c.f, block.out.weight, block.out.bias, df);
      const dpre = make(`d.fc-pre.${l}`, [R, mlpRatio * D]);
      recordActivationBackward(recorder, df, c.pre, dpre, 'gelu');
      const dh2 = make(`d.h2.${l}`, [R, D]);
      linearBackward(dpre, c.h2, block.fc.weight, block.fc.bias, dh2);
      const dln2 = make(`d.ln2.${l}`, [R, D]);
      recordLayerNormBackward(recorder, dh2, c.x1, block.ln2.gamma.value, c.stats2, dln2, block.ln2.gamma.grad, block.ln2.beta.grad);
      const dx1 = make(`d.x1.${l}`, [R, D]);
      recordAdd(recorder, dx, dln2, dx1);
      // Attention branch: x1 = x + drop(a·Wprojᵀ + b), a = attention(h1·Wqkvᵀ + b), h1 = LN1(x).
      let dy = dx1;
      if (c.dropAttn) {
        dy = make(`d.attn-out.${l}`, [R, D]);
        recordActivationBackward(recorder, dx1, dx1, dy, 'none', c.dropAttn);
      }
      const da = make(`d.attn.${l}`, [R, D]);
      linearBackward(dy, c.a, block.proj.weight, block.proj.bias, da);
      const dqkv = make(`d.qkv.${l}`, [R, 3 * D]);
      recordAttentionBackward(recorder, c.attention, da, dqkv);
      const dh1 = make(`d.h1.${l}`, [R, D]);
      linearBackward(dqkv, c.h1, block.qkv.weight, block.qkv.bias, dh1);
      const dln1 = make(`d.ln1.${l}`, [R, D]);
      recordLayerNormBackward(recorder, dh1, c.x, block.ln1.gamma.value, c.stats1, dln1, block.ln1.gamma.grad, block.ln1.beta.grad);
      const dxPrev = make(`d.x.${l}`, [R, D]);
      recordAdd(recorder, dx1, dln1, dxPrev);
      dx = dxPrev;
    }
    recordEmbeddingBackward(recorder, cache.tokens, dx, this.#tok.grad);
    recordPositionGrad(recorder, dx, this.#pos.grad);
    await recorder.submit();
    for (const t of temporaries) t.release();
  }

  /**
   * Continues `prompt` by `maxTokens` tokens: greedy at temperature 0, else sampled from
   * softmax(logits / temperature) with a seeded generator. The model sees the last `context`
   * tokens; a shorter window is padded on the right, which the causal mask hides from it.
   * The sampler is `sampleTokens` (../sampling.ts), shared with LlamaLm.
   */
  async generate(
    prompt: string,
    { maxTokens = 32, temperature = 0, seed = 0 }: { maxTokens?: number; temperature?: number; seed?: number } = {},
  ): Promise<string> {
    const ids = Array.from(this.tokenizer.encode(prompt));
    if (ids.length === 0) throw new DistilleryError('E_BAD_VALUE', 'generate needs a non-empty prompt', { field: 'prompt' });
    return this.tokenizer.decode(await sampleTokens(this, ids, { maxTokens, temperature, seed }));
  }

  async saveState(): Promise<ModelState> {
    return { config: this.config, tensors: await this.#params.toHost() };
  }

  async loadState(state: ModelState): Promise<void> {
    const other = parseConfig(transformerConfigSchema, stateConfig(state, TRANSFORMER_KIND), 'state.config');
    const s = this.#settings;
    const same =
      (['context', 'width', 'layers', 'heads', 'mlpRatio'] as const).every((k) => other[k] === s[k]) &&
      JSON.stringify(other.tokenizer) === JSON.stringify(s.tokenizer);
    if (!same)
      throw new DistilleryError('E_SHAPE_MISMATCH', 'model state has another architecture or tokenizer than this transformer', {
        field: 'config',
      });
    this.#params.fromHost(state.tensors, 'model state');
    this.#settings = other;
    this.#rngStep = other.rngStep;
    this.#caches.clearTraining();
  }

  release(): void {
    this.#caches.clear();
    this.#params.release();
  }
}
