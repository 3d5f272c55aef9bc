import { badValue, requireInteger, requirePositive } from '@distillery/core';
import { CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import type { RopeOptions } from './reference.js';
import { ropeKernel } from './rope.wgsl.js';

const WORKGROUP = 256;

/** Positions stay exact in f32 below 2^24. */
const MAX_POSITION = 2 ** 24;

function checkOptions(options: RopeOptions): Required<RopeOptions> {
  const { sequences, context, heads, headDim, ropeDims, base, positionOffset = 0, inverse = false, layout } = options;
  requireInteger('rope.sequences', sequences, 1);
  requireInteger('rope.context', context, 1, MAX_POSITION);
  requireInteger('rope.heads', heads, 1);
  requireInteger('rope.headDim', headDim, 2);
  if (headDim % 2 !== 0) throw badValue('rope.headDim', headDim, 'an even number');
  requireInteger('rope.ropeDims', ropeDims, 2, headDim);
  if (ropeDims % 2 !== 0) throw badValue('rope.ropeDims', ropeDims, 'an even number');
  requirePositive('rope.base', base);
  requireInteger('rope.positionOffset', positionOffset, 0, MAX_POSITION - context);
  if (typeof inverse !== 'boolean') throw badValue('rope.inverse', inverse, 'a boolean');
  if (layout !== 'norm' && layout !== 'neox')
    throw badValue('rope.layout', layout, "'norm' (llama.cpp, GGUF llama) or 'neox' (HF rotate_half)");
  return { sequences, context, heads, headDim, ropeDims, base, positionOffset, inverse, layout };
}

/**
 * Records y = RoPE(x) on `x [sequences·context, heads·headDim]`: in each head, pair i < ropeDims/2 of
 * the row at position p = (r mod context) + positionOffset is rotated by θ = p·base^(−2i/ropeDims)
 * (−θ with `inverse`, which is also the backward: dx = RoPE⁻¹(dy)); dims past ropeDims are copied.
 * `y` may be `x` (in place).
 */
export function recordRope(recorder: CommandRecorder, x: GpuTensor, y: GpuTensor, options: RopeOptions): void {
  const o = checkOptions(options);
  requireDtype(x);
  requireDtype(y);
  requireSameDevice(x, y);
  const rows = o.sequences * o.context;
  requireShape(x, [rows, o.heads * o.headDim]);
  requireShape(y, x.shape);
  const inPlace = x.buffer === y.buffer;
  const slots = x.size / 2;
  ropeKernel.record(
    recorder,
    { layout: o.layout, inPlace, workgroupSize: WORKGROUP },
    {
      uniforms: {
        slots,
        context: o.context,
        heads: o.heads,
        head_dim: o.headDim,
        rope_half: o.ropeDims / 2,
        position_offset: o.positionOffset,
        freq_exp: (-2 * Math.log2(o.base)) / o.ropeDims,
        sin_sign: o.inverse ? -1 : 1,
      },
      bindings: inPlace ? { x } : { x, y },
      workgroups: linearGrid(recorder.device, Math.ceil(slots / WORKGROUP)),
      label: `rope${o.inverse ? '⁻¹' : ''} ${x.label}`,
    },
  );
}

/** RoPE(x) as a new tensor, submitted. */
export async function rope(x: GpuTensor, options: RopeOptions): Promise<GpuTensor> {
  const y = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `rope(${x.label})` });
  const recorder = new CommandRecorder(x.device, 'rope');
  recordRope(recorder, x, y, options);
  await recorder.submit();
  return y;
}
