import { badValue, requireInteger } from '@distillery/core';
import { CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { headsKernel } from './heads.wgsl.js';

export const headsProgram = headsKernel;

const WORKGROUP = 256;

export interface HeadsShape {
  batch: number;
  context: number;
  heads: number;
  headDim: number;
}

function check(tokens: GpuTensor, heads: readonly GpuTensor[], s: HeadsShape): void {
  for (const [k, v] of Object.entries(s)) requireInteger(`heads.${k}`, v, 1);
  if (heads.length !== 1 && heads.length !== 3) throw badValue('heads.length', heads.length, '1 or 3');
  requireDtype(tokens);
  requireSameDevice(tokens, ...heads);
  requireShape(tokens, [s.batch * s.context, heads.length * s.heads * s.headDim]);
  for (const h of heads) requireShape(h, [s.batch * s.heads, s.context, s.headDim]);
}

function record(
  recorder: CommandRecorder,
  direction: 'split' | 'merge',
  tokens: GpuTensor,
  heads: readonly GpuTensor[],
  s: HeadsShape,
): void {
  check(tokens, heads, s);
  const count = s.batch * s.heads * s.context * s.headDim;
  headsKernel.record(
    recorder,
    { direction, parts: heads.length as 1 | 3, workgroupSize: WORKGROUP },
    {
      uniforms: { count, T: s.context, H: s.heads, dh: s.headDim, D: s.heads * s.headDim },
      bindings: { tokens, head0: heads[0], head1: heads[1], head2: heads[2] },
      workgroups: linearGrid(recorder.device, Math.ceil(count / WORKGROUP)),
      label: `heads ${direction} ${tokens.label}`,
    },
  );
}

/** Records tokens `[B·T, parts·H·dh]` → `parts` tensors `[B·H, T, dh]` (Q, K, V). */
export function recordSplitHeads(recorder: CommandRecorder, tokens: GpuTensor, heads: readonly GpuTensor[], shape: HeadsShape): void {
  record(recorder, 'split', tokens, heads, shape);
}

/** Records `parts` tensors `[B·H, T, dh]` → tokens `[B·T, parts·H·dh]`. */
export function recordMergeHeads(recorder: CommandRecorder, heads: readonly GpuTensor[], tokens: GpuTensor, shape: HeadsShape): void {
  record(recorder, 'merge', tokens, heads, shape);
}

export async function splitHeads(tokens: GpuTensor, parts: 1 | 3, shape: HeadsShape): Promise<GpuTensor[]> {
  const heads = Array.from({ length: parts }, (_, i) =>
    createTensor(tokens.device, { shape: [shape.batch * shape.heads, shape.context, shape.headDim], dtype: 'f32', label: `head${i}` }),
  );
  const recorder = new CommandRecorder(tokens.device, 'split-heads');
  recordSplitHeads(recorder, tokens, heads, shape);
  await recorder.submit();
  return heads;
}

export async function mergeHeads(heads: readonly GpuTensor[], shape: HeadsShape): Promise<GpuTensor> {
  const tokens = createTensor(heads[0]!.device, {
    shape: [shape.batch * shape.context, heads.length * shape.heads * shape.headDim],
    dtype: 'f32',
    label: 'tokens',
  });
  const recorder = new CommandRecorder(tokens.device, 'merge-heads');
  recordMergeHeads(recorder, heads, tokens, shape);
  await recorder.submit();
  return tokens;
}
