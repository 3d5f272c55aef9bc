import {
  DistilleryError,
  parseConfig,
  shapeMismatch,
  type BackwardOptions,
  type HostTensor,
  type ModelState,
  type Parameter,
  type Student,
} from '@distillery/core';
import { CommandRecorder, createTensor, type GpuTensor } from '@distillery/webgpu';
import { requireDtype } from '../../checks.js';
import { recordAdd, recordAddInPlace } from '../../kernels/add/add.js';
import { recordEmbedding, recordEmbeddingBackward } from '../../kernels/embedding/embedding.js';
import {
  recordGqaAttention,
  recordGqaAttentionBackward,
  releaseGqaAttention,
  type GqaAttentionSaved,
} from '../../kernels/gqa-attention/gqa-attention.js';
import { recordMatmul } from '../../kernels/matmul/matmul.js';
import { recordRmsNorm, recordRmsNormBackward } from '../../kernels/rms-norm/rms-norm.js';
import { recordRope } from '../../kernels/rope/rope.js';
import { recordSwiglu, recordSwigluBackward } from '../../kernels/swiglu/swiglu.js';
import { pickHiddenStates, requireHiddenGradients } from '../hidden-states.js';
import { ModeCaches, requireTokenIds, requireTokenWindow, stateConfig } from '../model-lifecycle.js';
import { ParameterSet } from '../parameters.js';
import type { LmBatch } from '../transformer.js';
import type { GgufFile, GgufMetadataEntry } from '@distillery/gguf';
import { asGgufFile, llamaSettingsFromGguf, llamaWeightsFromGguf, type LlamaGgufOptions } from './gguf-read.js';
import { llamaToGguf, tokenizerEntries, type LlamaToGgufOptions } from './gguf-write.js';
import { llamaToHuggingFace, type HuggingFaceLlama } from './huggingface.js';
import { headDim, LLAMA_KIND, llamaConfigSchema, llamaParameterShapes, type LlamaConfig, type LlamaSettings } from './config.js';

interface Block {
  attnNorm: Parameter<GpuTensor>;
  q: Parameter<GpuTensor>;
  k: Parameter<GpuTensor>;
  v: Parameter<GpuTensor>;
  o: Parameter<GpuTensor>;
  ffnNorm: Parameter<GpuTensor>;
  gate: Parameter<GpuTensor>;
  up: Parameter<GpuTensor>;
  down: Parameter<GpuTensor>;
}

interface BlockCache {
  /** The block's input (residual stream). */
  x: GpuTensor;
  h1: GpuTensor;
  rstd1: GpuTensor;
  attention: GqaAttentionSaved;
  /** Attention output before the o projection. */
  a: GpuTensor;
  x1: GpuTensor;
  h2: GpuTensor;
  rstd2: GpuTensor;
  gate: GpuTensor;
  up: GpuTensor;
  act: GpuTensor;
  /** q, k, v after the projections (and rope), released with the cache (the attention may keep views of them). */
  qkv: GpuTensor[];
}

interface Cache {
  sequences: number;
  tokens: GpuTensor;
  blocks: BlockCache[];
  /** Last block's output, the final norm's input. */
  xf: GpuTensor;
  /** Final RMSNorm output (`norm`). */
  hf: GpuTensor;
  rstdf: GpuTensor;
  logits?: GpuTensor;
}

function releaseCache(cache: Cache): void {
  for (const b of cache.blocks) {
    for (const t of [b.x, b.h1, b.rstd1, b.a, b.x1, b.h2, b.rstd2, b.gate, b.up, b.act, ...b.qkv]) t.release();
    releaseGqaAttention(b.attention);
  }
  for (const t of [cache.xf, cache.hf, cache.rstdf]) t.release();
  cache.logits?.release();
}

/**
 * A Llama decoder (llama.cpp's `llama` architecture) on WebGPU: token embedding, `layers` blocks of
 * [RMSNorm → q, k, v projections → rotary embeddings (llama.cpp NORM pairing) → causal grouped-query
 * attention → o projection → residual, RMSNorm → SwiGLU feed-forward (gate, up, down) → residual],
 * a final RMSNorm and an output head (tied to the embedding or not). `forward` returns next-token
 * logits `[sequences·context, vocab]`.
 *
 * Parameters carry their GGUF tensor names (`token_embd.weight`, `blk.{l}.attn_q.weight`, …) in
 * llama.cpp's layouts, so `fromGguf` / `toGguf` move them as they are.
 *
 * Hidden states, each `[sequences·context, width]`: `blocks.{l}` is the residual stream after block
 * l, `norm` the final RMSNorm's output (what the head reads). `forwardHidden` / `backwardFromHidden`
 * / `headWeight` let a loss apply the head itself (white-box's fused linear + KD head).
 */
export class LlamaLm implements Student<LmBatch, GpuTensor> {
  readonly name = LLAMA_KIND;
  readonly vocabSize: number;
  readonly #settings: LlamaSettings;
  readonly #params: ParameterSet;
  readonly #embedding: Parameter<GpuTensor>;
  readonly #blocks: Block[] = [];
  readonly #norm: Parameter<GpuTensor>;
  readonly #head: Parameter<GpuTensor>;
  readonly #caches = new ModeCaches<Cache>(releaseCache);
  /** The tokenizer metadata of the GGUF the model was read from (what `toGguf` writes by default). */
  #tokenizer: Map<string, GgufMetadataEntry> | undefined;

  private constructor(
    readonly device: GPUDevice,
    settings: LlamaSettings,
  ) {
    this.#settings = settings;
    this.vocabSize = settings.vocab;
    const p = (this.#params = new ParameterSet(device, settings.seed));
    // llama2.c's initialisation: N(0, 0.02), the projections into the residual stream scaled by 1/√(2L), unit norm gains.
    const std = 0.02;
    const residualStd = std / Math.sqrt(2 * settings.layers);
    const byName = new Map<string, Parameter<GpuTensor>>();
    for (const [name, shape] of llamaParameterShapes(settings)) {
      const init = name.endsWith('norm.weight')
        ? ({ kind: 'constant', value: 1 } as const)
        : ({ kind: 'normal', std: name.endsWith('attn_output.weight') || name.endsWith('ffn_down.weight') ? residualStd : std } as const);
      byName.set(name, p.add(name, shape, init));
    }
    const get = (name: string) => byName.get(name)!;
    this.#embedding = get('token_embd.weight');
    for (let l = 0; l < settings.layers; l++) {
      const w = (part: string) => get(`blk.${l}.${part}.weight`);
      this.#blocks.push({
        attnNorm: w('attn_norm'),
        q: w('attn_q'),
        k: w('attn_k'),
        v: w('attn_v'),
        o: w('attn_output'),
        ffnNorm: w('ffn_norm'),
        gate: w('ffn_gate'),
        up: w('ffn_up'),
        down: w('ffn_down'),
      });
    }
    this.#norm = get('output_norm.weight');
    this.#head = settings.tiedHead ? this.#embedding : get('output.weight');
  }

  /** A randomly initialised Llama (a student). */
  static create(device: GPUDevice, config: LlamaConfig): LlamaLm {
    return new LlamaLm(device, parseConfig(llamaConfigSchema, config, 'llama'));
  }

  /** A Llama with these settings and weights (by GGUF tensor name, f32, row-major). */
  static fromWeights(
    device: GPUDevice,
    settings: LlamaSettings,
    weights: Readonly<Record<string, Float32Array>>,
    source = 'weights',
  ): LlamaLm {
    const model = new LlamaLm(device, settings);
    const tensors: Record<string, HostTensor> = {};
    for (const [name, shape] of llamaParameterShapes(settings)) tensors[name] = { shape, dtype: 'f32', data: weights[name]! };
    model.#params.fromHost(tensors, source);
    return model;
  }

  /**
   * A Llama read from a GGUF file (`general.architecture = llama`, tokenizer `llama`): F32, F16,
   * BF16 and Q8_0 tensors are dequantised to f32. `options.context` is the window the model is run
   * on (default the file's `llama.context_length`; a longer one is refused; pass the context the
   * model was trained on when the file overstates it — stories260K: 512).
   */
  static fromGguf(device: GPUDevice, input: Uint8Array | ArrayBuffer | GgufFile, options: LlamaGgufOptions = {}): LlamaLm {
    const file = asGgufFile(input, options.source);
    const settings = llamaSettingsFromGguf(file, options);
    const model = LlamaLm.fromWeights(device, settings, llamaWeightsFromGguf(file, settings), file.source);
    model.#tokenizer = tokenizerEntries(file, settings.vocab);
    return model;
  }

  /**
   * The model as a GGUF v3 file llama.cpp loads (see `LlamaToGgufOptions`). The tokenizer comes from
   * `options.tokenizerFrom` or the file the model was read from; its vocabulary must be the model's.
   */
  async toGguf(options: LlamaToGgufOptions = {}): Promise<Uint8Array> {
    const tokenizer = options.tokenizerFrom ? tokenizerEntries(options.tokenizerFrom, this.vocabSize) : this.#tokenizer;
    if (!tokenizer) {
      throw new DistilleryError(
        'E_BAD_VALUE',
        'toGguf needs the tokenizer: pass tokenizerFrom (the teacher GGUF) for a model not read from a GGUF',
        { field: 'tokenizerFrom', value: undefined, expected: 'a parsed GGUF with a llama tokenizer' },
      );
    }
    return llamaToGguf(this.#settings, await this.weights(), tokenizer, options);
  }

  /** The model as a Hugging Face `LlamaForCausalLM` checkpoint (`config.json`, `model.safetensors`; q/k rows back in rotate_half order). */
  async toHuggingFace(): Promise<HuggingFaceLlama> {
    return llamaToHuggingFace(this.#settings, await this.weights());
  }

  static async fromState(device: GPUDevice, state: ModelState): Promise<LlamaLm> {
    const model = LlamaLm.create(device, stateConfig(state, LLAMA_KIND) as LlamaConfig);
    await model.loadState(state);
    return model;
  }

  get settings(): LlamaSettings {
    return this.#settings;
  }

  get config(): LlamaSettings & { kind: string } {
    return { kind: LLAMA_KIND, ...this.#settings };
  }

  parameters(): readonly Parameter<GpuTensor>[] {
    return this.#params.list;
  }

  get parameterCount(): number {
    return this.#params.count;
  }

  /** A parameter by its GGUF tensor name. */
  parameter(name: string): Parameter<GpuTensor> {
    return this.#params.get(name);
  }

  zeroGrad(): void {
    this.#params.zeroGrad();
  }

  /** `blocks.0` … `blocks.{layers−1}` then `norm`, all of width `width`. */
  hiddenStateWidths(): Readonly<Record<string, number>> {
    const { layers, width } = this.#settings;
    const widths: Record<string, number> = {};
    for (let l = 0; l < layers; l++) widths[`blocks.${l}`] = width;
    widths.norm = width;
    return widths;
  }

  /** The named hidden states of the last forward of that mode (owned by the model, valid until its next forward of that mode). */
  hiddenStates(names: readonly string[], { training }: { training: boolean }): Record<string, GpuTensor> {
    const cache = this.#caches.get(training);
    const lookup = (name: string): GpuTensor => {
      if (name === 'norm') return cache!.hf;
      const next = Number(name.slice('blocks.'.length)) + 1;
      return next < cache!.blocks.length ? cache!.blocks[next]!.x : cache!.xf;
    };
    return pickHiddenStates(LLAMA_KIND, names, this.hiddenStateWidths(), cache && lookup, training);
  }

  /** The output head `[vocab, width]` (logits = norm · Wᵀ): `output.weight`, or `token_embd.weight` when tied. */
  get headWeight(): Parameter<GpuTensor> {
    return this.#head;
  }

  async forward(batch: LmBatch, { training }: { training: boolean }): Promise<GpuTensor> {
    return (await this.#forward(batch, training, true)).logits!;
  }

  /** The forward up to the final RMSNorm: returns `norm` `[sequences·context, width]` (owned by the model) without applying the head. */
  async forwardHidden(batch: LmBatch, { training }: { training: boolean }): Promise<GpuTensor> {
    return (await this.#forward(batch, training, false)).hf;
  }

  #attentionShape(sequences: number) {
    const s = this.#settings;
    return { sequences, context: s.context, heads: s.heads, kvHeads: s.kvHeads, headDim: headDim(s) };
  }

  #ropeOptions(sequences: number, heads: number, inverse: boolean) {
    const s = this.#settings;
    return {
      sequences,
      context: s.context,
      heads,
      headDim: headDim(s),
      ropeDims: s.ropeDims,
      base: s.ropeBase,
      inverse,
      layout: 'norm' as const,
    };
  }

  async #forward(batch: LmBatch, training: boolean, head: boolean): Promise<Cache> {
    const { tokens, sequences } = batch;
    const s = this.#settings;
    const R = requireTokenWindow(tokens, sequences, s.context);
    await requireTokenIds(tokens, s.vocab, LLAMA_KIND);
    const D = s.width;
    const hd = headDim(s);
    const make = (label: string, shape: number[]) => createTensor(this.device, { shape, dtype: 'f32', label });
    const recorder = new CommandRecorder(this.device, `${LLAMA_KIND}-forward`);
    let x = make('x.0', [R, D]);
    recordEmbedding(recorder, tokens, this.#embedding.value, x);
    const blocks: BlockCache[] = [];
    this.#blocks.forEach((block, l) => {
      const h1 = make(`h1.${l}`, [R, D]);
      const rstd1 = make(`rstd1.${l}`, [R]);
      recordRmsNorm(recorder, x, block.attnNorm.value, h1, rstd1, s.rmsEps);
      const q = make(`q.${l}`, [R, s.heads * hd]);
      const k = make(`k.${l}`, [R, s.kvHeads * hd]);
      const v = make(`v.${l}`, [R, s.kvHeads * hd]);
      recordMatmul(recorder, h1, block.q.value, q, { transB: true });
      recordMatmul(recorder, h1, block.k.value, k, { transB: true });
      recordMatmul(recorder, h1, block.v.value, v, { transB: true });
      recordRope(recorder, q, q, this.#ropeOptions(sequences, s.heads, false));
      recordRope(recorder, k, k, this.#ropeOptions(sequences, s.kvHeads, false));
      const a = make(`attn.${l}`, [R, s.heads * hd]);
      const attention = recordGqaAttention(recorder, q, k, v, a, this.#attentionShape(sequences));
      const o = make(`attn-out.${l}`, [R, D]);
      recordMatmul(recorder, a, block.o.value, o, { transB: true });
      const x1 = make(`x1.${l}`, [R, D]);
      recordAdd(recorder, x, o, x1);
      o.release();
      const h2 = make(`h2.${l}`, [R, D]);
      const rstd2 = make(`rstd2.${l}`, [R]);
      recordRmsNorm(recorder, x1, block.ffnNorm.value, h2, rstd2, s.rmsEps);
      const gate = make(`gate.${l}`, [R, s.ffn]);
      const up = make(`up.${l}`, [R, s.ffn]);
      recordMatmul(recorder, h2, block.gate.value, gate, { transB: true });
      recordMatmul(recorder, h2, block.up.value, up, { transB: true });
      const act = make(`swiglu.${l}`, [R, s.ffn]);
      recordSwiglu(recorder, gate, up, act);
      const down = make(`ffn-out.${l}`, [R, D]);
      recordMatmul(recorder, act, block.down.value, down, { transB: true });
      const x2 = make(`x.${l + 1}`, [R, D]);
      recordAdd(recorder, x1, down, x2);
      down.release();
      blocks.push({ x, h1, rstd1, attention, a, x1, h2, rstd2, gate, up, act, qkv: [q, k, v] });
      x = x2;
    });
    const hf = make('norm', [R, D]);
    const rstdf = make('rstd-f', [R]);
    recordRmsNorm(recorder, x, this.#norm.value, hf, rstdf, s.rmsEps);
    let logits: GpuTensor | undefined;
    if (head) {
      logits = make('logits', [R, s.vocab]);
      recordMatmul(recorder, hf, this.#head.value, logits, { transB: true });
    }
    await recorder.submit();
    const cache: Cache = { sequences, tokens, blocks, xf: x, hf, rstdf, logits };
    this.#caches.set(training, cache);
    return cache;
  }

  /**
   * Accumulates parameter gradients for the last training forward. `options.hidden` adds gradients
   * w.r.t. hidden states: `norm`'s before the final RMSNorm's backward, `blocks.{l}`'s where block
   * l's output enters the backward pass.
   */
  async backward(gradLogits: GpuTensor, options: BackwardOptions<GpuTensor> = {}): Promise<void> {
    const cache = this.#caches.requireTraining(LLAMA_KIND, 'gradLogits');
    const R = cache.sequences * this.#settings.context;
    requireDtype(gradLogits);
    if (gradLogits.shape.length !== 2 || gradLogits.shape[0] !== R || gradLogits.shape[1] !== this.vocabSize) {
      throw shapeMismatch(gradLogits.label, gradLogits.shape, `[${R}, ${this.vocabSize}] like the last training forward's logits`);
    }
    const extra = requireHiddenGradients(LLAMA_KIND, options.hidden, this.hiddenStateWidths(), R);
    await this.#backward(cache, extra, (recorder, make) => {
      const dhf = make('d.norm', [R, this.#settings.width]);
      recordMatmul(recorder, gradLogits, cache.hf, this.#head.grad, { transA: true, accumulate: true });
      recordMatmul(recorder, gradLogits, this.#head.value, dhf);
      return dhf;
    });
  }

  /**
   * The backward of `forwardHidden`: accumulates the gradients of every parameter but the head's own
   * use from d loss / d norm `[rows, width]` (the caller applied the head and owns its gradient).
   */
  async backwardFromHidden(gradHidden: GpuTensor, options: BackwardOptions<GpuTensor> = {}): Promise<void> {
    const cache = this.#caches.requireTraining(LLAMA_KIND, 'gradHidden');
    const { width: D, context } = this.#settings;
    const R = cache.sequences * context;
    requireDtype(gradHidden);
    if (gradHidden.shape.length !== 2 || gradHidden.shape[0] !== R || gradHidden.shape[1] !== D) {
      throw shapeMismatch(gradHidden.label, gradHidden.shape, `[${R}, ${D}] like the last training forward's norm`);
    }
    const extra = requireHiddenGradients(LLAMA_KIND, options.hidden, this.hiddenStateWidths(), R);
    await this.#backward(cache, extra, () => gradHidden);
  }

  async #backward(
    cache: Cache,
    extra: Readonly<Record<string, GpuTensor>>,
    start: (recorder: CommandRecorder, make: (label: string, shape: number[]) => GpuTensor) => GpuTensor,
  ): Promise<void> {
    const s = this.#settings;
    const D = s.width;
    const hd = headDim(s);
    const { sequences } = cache;
    const R = sequences * s.context;
    const recorder = new CommandRecorder(this.device, `${LLAMA_KIND}-backward`);
    const temporaries: GpuTensor[] = [];
    const make = (label: string, shape: number[]) => {
      const t = createTensor(this.device, { shape, dtype: 'f32', label });
      temporaries.push(t);
      return t;
    };
    /** y = x·Wᵀ: dW += dyᵀ·x; dx (+)= dy·W. */
    const linearBackward = (dy: GpuTensor, x: GpuTensor, w: Parameter<GpuTensor>, dx: GpuTensor, accumulate = false) => {
      recordMatmul(recorder, dy, x, w.grad, { transA: true, accumulate: true });
      recordMatmul(recorder, dy, w.value, dx, { accumulate });
    };
    let dhf = start(recorder, make);
    if (extra.norm) {
      if (temporaries.includes(dhf)) recordAddInPlace(recorder, extra.norm, dhf);
      else {
        // The caller's d norm is an input: sum into a temporary rather than write into it.
        const sum = make('d.norm', [R, D]);
        recordAdd(recorder, dhf, extra.norm, sum);
        dhf = sum;
      }
    }
    let dx = make('d.xf', [R, D]);
    recordRmsNormBackward(recorder, dhf, cache.xf, this.#norm.value, cache.rstdf, dx, this.#norm.grad);
    for (let l = this.#blocks.length - 1; l >= 0; l--) {
      const block = this.#blocks[l]!;
      const c = cache.blocks[l]!;
      const blockGrad = extra[`blocks.${l}`];
      if (blockGrad) recordAddInPlace(recorder, blockGrad, dx);
      // Feed-forward branch: x2 = x1 + down(swiglu(gate(h2), up(h2))), h2 = RMSNorm(x1).
      const dact = make(`d.swiglu.${l}`, [R, s.ffn]);
      linearBackward(dx, c.act, block.down, dact);
      const dgate = make(`d.gate.${l}`, [R, s.ffn]);
      const dup = make(`d.up.${l}`, [R, s.ffn]);
      recordSwigluBackward(recorder, dact, c.gate, c.up, dgate, dup);
      const dh2 = make(`d.h2.${l}`, [R, D]);
      linearBackward(dgate, c.h2, block.gate, dh2);
      linearBackward(dup, c.h2, block.up, dh2, true);
      const dnorm2 = make(`d.ffn-norm.${l}`, [R, D]);
      recordRmsNormBackward(recorder, dh2, c.x1, block.ffnNorm.value, c.rstd2, dnorm2, block.ffnNorm.grad);
      const dx1 = make(`d.x1.${l}`, [R, D]);
      recordAdd(recorder, dx, dnorm2, dx1);
      // Attention branch: x1 = x + o(attention(rope(q(h1)), rope(k(h1)), v(h1))), h1 = RMSNorm(x).
      const da = make(`d.attn.${l}`, [R, s.heads * hd]);
      linearBackward(dx1, c.a, block.o, da);
      const dq = make(`d.q.${l}`, [R, s.heads * hd]);
      const dk = make(`d.k.${l}`, [R, s.kvHeads * hd]);
      const dv = make(`d.v.${l}`, [R, s.kvHeads * hd]);
      recordGqaAttentionBackward(recorder, c.attention, da, dq, dk, dv);
      // Rotation is orthogonal: its backward is the inverse rotation.
      recordRope(recorder, dq, dq, this.#ropeOptions(sequences, s.heads, true));
      recordRope(recorder, dk, dk, this.#ropeOptions(sequences, s.kvHeads, true));
      const dh1 = make(`d.h1.${l}`, [R, D]);
      linearBackward(dq, c.h1, block.q, dh1);
      linearBackward(dk, c.h1, block.k, dh1, true);
      linearBackward(dv, c.h1, block.v, dh1, true);
      const dnorm1 = make(`d.attn-norm.${l}`, [R, D]);
      recordRmsNormBackward(recorder, dh1, c.x, block.attnNorm.value, c.rstd1, dnorm1, block.attnNorm.grad);
      const dxPrev = make(`d.x.${l}`, [R, D]);
      recordAdd(recorder, dx1, dnorm1, dxPrev);
      dx = dxPrev;
    }
    recordEmbeddingBackward(recorder, cache.tokens, dx, this.#embedding.grad);
    await recorder.submit();
    for (const t of temporaries) t.release();
  }

  /** The weights as host float32 arrays by GGUF tensor name. */
  async weights(): Promise<Record<string, Float32Array>> {
    const host = await this.#params.toHost();
    return Object.fromEntries(Object.entries(host).map(([name, t]) => [name, t.data as Float32Array]));
  }

  async saveState(): Promise<ModelState> {
    return { config: this.config, tensors: await this.#params.toHost() };
  }

  async loadState(state: ModelState): Promise<void> {
    const other = parseConfig(llamaConfigSchema, stateConfig(state, LLAMA_KIND), 'state.config');
    const s = this.#settings;
    const keys = ['vocab', 'width', 'layers', 'heads', 'kvHeads', 'ffn', 'ropeDims', 'ropeBase', 'rmsEps', 'context', 'tiedHead'] as const;
    const differing = keys.find((k) => other[k] !== s[k]);
    if (differing) {
      throw new DistilleryError(
        'E_SHAPE_MISMATCH',
        `model state has ${differing} = ${String(other[differing])}, this Llama has ${String(s[differing])}`,
        {
          field: `config.${differing}`,
          value: other[differing],
          expected: String(s[differing]),
        },
      );
    }
    this.#params.fromHost(state.tensors, 'model state');
    this.#caches.clear();
  }

  release(): void {
    this.#caches.clear();
    this.#params.release();
  }
}
