import { badValue, requireInteger } from '@distillery/core';
import { CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { gqaAttentionKernel, type GqaAttentionVariant } from './gqa-attention.wgsl.js';
import type { GqaShape } from './reference.js';

const WORKGROUP = 64;
/** Each invocation holds up to three head vectors in registers; beyond this they spill. */
export const GQA_MAX_HEAD_DIM = 64;

/**
 * What the backward needs. `q`, `k`, `v` and `out` are the caller's tensors, referenced and not
 * copied: keep them unchanged until the backward has been recorded and submitted. `lse` (the
 * per-row log-sum-exp `[R, heads]`) belongs to this object: release it with `releaseGqaAttention`.
 */
export interface GqaAttentionSaved {
  shape: GqaShape;
  q: GpuTensor;
  k: GpuTensor;
  v: GpuTensor;
  out: GpuTensor;
  lse: GpuTensor;
}

function checkShape(s: GqaShape): GqaShape {
  const { sequences, context, heads, kvHeads, headDim } = s;
  requireInteger('gqaAttention.sequences', sequences, 1);
  requireInteger('gqaAttention.context', context, 1);
  requireInteger('gqaAttention.heads', heads, 1);
  requireInteger('gqaAttention.kvHeads', kvHeads, 1, heads);
  if (heads % kvHeads !== 0) throw badValue('gqaAttention.kvHeads', kvHeads, `a divisor of heads (${heads})`);
  requireInteger('gqaAttention.headDim', headDim, 1, GQA_MAX_HEAD_DIM);
  return { sequences, context, heads, kvHeads, headDim };
}

function uniforms(s: GqaShape, count: number) {
  return { count, context: s.context, heads: s.heads, kv_heads: s.kvHeads, group: s.heads / s.kvHeads, scale: 1 / Math.sqrt(s.headDim) };
}

function variant(pass: GqaAttentionVariant['pass'], s: GqaShape): GqaAttentionVariant {
  return { pass, headDim: s.headDim, workgroupSize: WORKGROUP };
}

/**
 * Records causal grouped-query attention: `q [R, heads·dh]`, `k, v [R, kvHeads·dh]` → `out [R, heads·dh]`
 * with R = sequences·context; query head h attends with kv head ⌊h / (heads/kvHeads)⌋ to the rows
 * at or before its own within its sequence, scores scaled by 1/√dh. One dispatch.
 */
export function recordGqaAttention(
  recorder: CommandRecorder,
  q: GpuTensor,
  k: GpuTensor,
  v: GpuTensor,
  out: GpuTensor,
  shape: GqaShape,
): GqaAttentionSaved {
  const s = checkShape(shape);
  const rows = s.sequences * s.context;
  for (const t of [q, k, v, out]) requireDtype(t);
  requireSameDevice(q, k, v, out);
  requireShape(q, [rows, s.heads * s.headDim]);
  requireShape(k, [rows, s.kvHeads * s.headDim]);
  requireShape(v, [rows, s.kvHeads * s.headDim]);
  requireShape(out, q.shape);
  const lse = createTensor(q.device, { shape: [rows, s.heads], dtype: 'f32', label: `attn.lse(${q.label})` });
  const count = rows * s.heads;
  gqaAttentionKernel.record(recorder, variant('forward', s), {
    uniforms: uniforms(s, count),
    bindings: { q, k, v, out, lse },
    workgroups: linearGrid(recorder.device, Math.ceil(count / WORKGROUP)),
    label: `gqa-attention ${q.label}`,
  });
  return { shape: s, q, k, v, out, lse };
}

/**
 * Records dq, dk and dv (all overwritten, not accumulated) from `dout [R, heads·dh]`; dk and dv are
 * summed over the query heads that share each kv head, in a fixed order. Two dispatches.
 */
export function recordGqaAttentionBackward(
  recorder: CommandRecorder,
  saved: GqaAttentionSaved,
  dout: GpuTensor,
  dq: GpuTensor,
  dk: GpuTensor,
  dv: GpuTensor,
): void {
  const { shape: s, q, k, v, out, lse } = saved;
  for (const t of [dout, dq, dk, dv]) requireDtype(t);
  requireSameDevice(q, dout, dq, dk, dv);
  requireShape(dout, q.shape);
  requireShape(dq, q.shape);
  requireShape(dk, k.shape);
  requireShape(dv, v.shape);
  const rows = s.sequences * s.context;
  const delta = createTensor(q.device, { shape: [rows, s.heads], dtype: 'f32', label: `attn.delta(${q.label})` });
  const queries = rows * s.heads;
  gqaAttentionKernel.record(recorder, variant('dq', s), {
    uniforms: uniforms(s, queries),
    bindings: { q, k, v, out, lse, dout, delta, dq },
    workgroups: linearGrid(recorder.device, Math.ceil(queries / WORKGROUP)),
    label: `gqa-attention dq ${q.label}`,
  });
  const keys = rows * s.kvHeads;
  gqaAttentionKernel.record(recorder, variant('dkdv', s), {
    uniforms: uniforms(s, keys),
    bindings: { q, k, v, lse, dout, delta, dk, dv },
    workgroups: linearGrid(recorder.device, Math.ceil(keys / WORKGROUP)),
    label: `gqa-attention dk dv ${q.label}`,
  });
  // Dead once the recorder is submitted; queue order makes releasing it now safe.
  delta.release();
}

/** Releases what the forward allocated (the log-sum-exp), not the caller's q, k, v and out. */
export function releaseGqaAttention(saved: GqaAttentionSaved | undefined): void {
  saved?.lse.release();
}

/** Forward as a new tensor, submitted (tests). */
export async function gqaAttention(
  q: GpuTensor,
  k: GpuTensor,
  v: GpuTensor,
  shape: GqaShape,
): Promise<{ out: GpuTensor; saved: GqaAttentionSaved }> {
  const out = createTensor(q.device, { shape: q.shape, dtype: 'f32', label: 'attn.out' });
  const recorder = new CommandRecorder(q.device, 'gqa-attention');
  const saved = recordGqaAttention(recorder, q, k, v, out, shape);
  await recorder.submit();
  return { out, saved };
}

/** Backward as new tensors, submitted (tests). */
export async function gqaAttentionBackward(
  saved: GqaAttentionSaved,
  dout: GpuTensor,
): Promise<{ dq: GpuTensor; dk: GpuTensor; dv: GpuTensor }> {
  const make = (like: GpuTensor, label: string) => createTensor(like.device, { shape: like.shape, dtype: 'f32', label });
  const dq = make(saved.q, 'attn.dq');
  const dk = make(saved.k, 'attn.dk');
  const dv = make(saved.v, 'attn.dv');
  const recorder = new CommandRecorder(dout.device, 'gqa-attention-backward');
  recordGqaAttentionBackward(recorder, saved, dout, dq, dk, dv);
  await recorder.submit();
  return { dq, dk, dv };
}
