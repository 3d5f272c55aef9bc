import { CommandRecorder, createTensor, type GpuTensor } from '@distillery/webgpu';
import { recordMergeHeads, recordSplitHeads, type HeadsShape } from '../heads/heads.js';
import { recordMatmul } from '../matmul/matmul.js';
import { recordSoftmax, recordSoftmaxBackward } from '../softmax/softmax.js';

/** What the attention backward needs from its forward. Release with `releaseAttention`. */
export interface AttentionSaved {
  shape: HeadsShape;
  q: GpuTensor;
  k: GpuTensor;
  v: GpuTensor;
  /** Attention weights `[B·H, T, T]`. */
  p: GpuTensor;
}

/**
 * Causal multi-head self-attention core, composed from the kernels: `qkv [B·T, 3·D]` (the fused
 * Q|K|V projection, heads interleaved as `[3, H, dh]` per token) → `out [B·T, D]`:
 * split heads, S = Q·Kᵀ (batched NT matmul), P = causal softmax(S / √dh), O = P·V, merge heads.
 */
export function recordAttention(recorder: CommandRecorder, qkv: GpuTensor, out: GpuTensor, shape: HeadsShape): AttentionSaved {
  const { batch, heads, context: T, headDim } = shape;
  const device = qkv.device;
  const make = (label: string, dims: number[]) => createTensor(device, { shape: dims, dtype: 'f32', label });
  const bh = batch * heads;
  const q = make('attn.q', [bh, T, headDim]);
  const k = make('attn.k', [bh, T, headDim]);
  const v = make('attn.v', [bh, T, headDim]);
  const s = make('attn.scores', [bh, T, T]);
  const p = make('attn.p', [bh, T, T]);
  const o = make('attn.o', [bh, T, headDim]);
  recordSplitHeads(recorder, qkv, [q, k, v], shape);
  recordMatmul(recorder, q, k, s, { transB: true });
  recordSoftmax(recorder, s, p, { scale: 1 / Math.sqrt(headDim), causal: true });
  recordMatmul(recorder, p, v, o);
  recordMergeHeads(recorder, [o], out, shape);
  // s and o are dead once the recorder is submitted; queue order makes releasing them now safe.
  s.release();
  o.release();
  return { shape, q, k, v, p };
}

/** Records dqkv from dOut: dO = split(dOut); dV = Pᵀ·dO; dP = dO·Vᵀ; dS = softmax'; dQ = dS·K; dK = dSᵀ·Q. */
export function recordAttentionBackward(recorder: CommandRecorder, saved: AttentionSaved, dOut: GpuTensor, dqkv: GpuTensor): void {
  const { shape, q, k, v, p } = saved;
  const { batch, heads, context: T, headDim } = shape;
  const device = dOut.device;
  const bh = batch * heads;
  const make = (label: string, dims: number[]) => createTensor(device, { shape: dims, dtype: 'f32', label });
  const dO = make('attn.dO', [bh, T, headDim]);
  const dP = make('attn.dP', [bh, T, T]);
  const dS = make('attn.dS', [bh, T, T]);
  const dq = make('attn.dq', [bh, T, headDim]);
  const dk = make('attn.dk', [bh, T, headDim]);
  const dv = make('attn.dv', [bh, T, headDim]);
  recordSplitHeads(recorder, dOut, [dO], shape);
  recordMatmul(recorder, p, dO, dv, { transA: true });
  recordMatmul(recorder, dO, v, dP, { transB: true });
  recordSoftmaxBackward(recorder, p, dP, dS, { scale: 1 / Math.sqrt(headDim), causal: true });
  recordMatmul(recorder, dS, k, dq);
  recordMatmul(recorder, dS, q, dk, { transA: true });
  recordMergeHeads(recorder, [dq, dk, dv], dqkv, shape);
  for (const t of [dO, dP, dS, dq, dk, dv]) t.release();
}

export function releaseAttention(saved: AttentionSaved | undefined): void {
  if (!saved) return;
  for (const t of [saved.q, saved.k, saved.v, saved.p]) t.release();
}

/** Forward as a new tensor, submitted (tests). */
export async function attention(qkv: GpuTensor, shape: HeadsShape): Promise<{ out: GpuTensor; saved: AttentionSaved }> {
  const out = createTensor(qkv.device, {
    shape: [shape.batch * shape.context, shape.heads * shape.headDim],
    dtype: 'f32',
    label: 'attn.out',
  });
  const recorder = new CommandRecorder(qkv.device, 'attention');
  const saved = recordAttention(recorder, qkv, out, shape);
  await recorder.submit();
  return { out, saved };
}

export async function attentionBackward(saved: AttentionSaved, dOut: GpuTensor): Promise<GpuTensor> {
  const { batch, context, heads, headDim } = saved.shape;
  const dqkv = createTensor(dOut.device, { shape: [batch * context, 3 * heads * headDim], dtype: 'f32', label: 'attn.dqkv' });
  const recorder = new CommandRecorder(dOut.device, 'attention-backward');
  recordAttentionBackward(recorder, saved, dOut, dqkv);
  await recorder.submit();
  return dqkv;
}

/** Float64 reference of the causal attention core on `qkv [B·T, 3·H·dh]`. */
export function attentionReference(qkv: ArrayLike<number>, { batch, context: T, heads: H, headDim: dh }: HeadsShape): Float64Array {
  const D = H * dh;
  const out = new Float64Array(batch * T * D);
  const at = (b: number, t: number, part: number, h: number, e: number) => qkv[(b * T + t) * 3 * D + part * D + h * dh + e]!;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let e = 0; e < dh; e++) s += at(b, t, 0, h, e) * at(b, j, 1, h, e);
          scores.push(s / Math.sqrt(dh));
        }
        const m = Math.max(...scores);
        const w = scores.map((s) => Math.exp(s - m));
        const z = w.reduce((a, c) => a + c, 0);
        for (let e = 0; e < dh; e++) {
          let o = 0;
          for (let j = 0; j <= t; j++) o += (w[j]! / z) * at(b, j, 2, h, e);
          out[(b * T + t) * D + h * dh + e] = o;
        }
      }
    }
  }
  return out;
}
